/** The one place that knows the tools: their input slots, accepted types, params and prices. */

export type ToolId = 'upscale-image' | 'upscale-video' | 'pose-changer' | 'try-on';
export type MediaKind = 'image' | 'video';

export const MEDIA_TYPES: Record<MediaKind, readonly string[]> = {
  image: ['image/jpeg', 'image/png', 'image/webp'],
  video: ['video/mp4', 'video/quicktime'],
};

/** The file extension a download of each media type is saved with. */
export const EXTENSIONS: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'video/mp4': 'mp4',
  'video/quicktime': 'mov',
};

export const MB = 1024 * 1024;

/** Size limits per media kind; overridable by env (MAX_IMAGE_BYTES, MAX_VIDEO_BYTES) through config. */
export interface Limits {
  image: number;
  video: number;
}
export const DEFAULT_LIMITS: Limits = { image: 20 * MB, video: 500 * MB };

export type Params = Record<string, string | number>;

/** What collecting accepts from the provider for a tool: the bytes' type and at most this many bytes. */
export interface OutputRule {
  types: readonly string[];
  maxBytes: number;
}

/**
 * The largest output the provider may return, per media kind; collecting streams it (memory does not grow with it).
 * - image: a 4× upscale of the largest input (16.8 MP) is 268 MP; as an 8-bit RGB PNG that stores badly, about
 *   268 M × 3 bytes ≈ 805 MB, so 1 GiB.
 * - video: a 2× upscale of two minutes of Full HD is two minutes of 4K; at a generous 100 Mbit/s that is
 *   120 s × 12.5 MB/s = 1.5 GB, so 2 GiB.
 */
export const OUTPUT_LIMITS: Record<MediaKind, number> = { image: 1024 * MB, video: 2048 * MB };

/**
 * What admission reads from a file's header before charging, per tool: the provider refuses (or chokes on)
 * larger work, and the operator pays it either way. Megapixels are width × height / 1,000,000.
 */
export interface MediaLimits {
  /** Image slots: the largest image accepted. */
  maxMegapixels?: number;
  /** Video slots: longest duration and largest frame (either orientation). */
  video?: { maxSeconds: number; maxLongSide: number; maxShortSide: number };
}

interface ParamSpec {
  values: readonly (string | number)[];
  default?: string | number;
}

export interface ToolSpec {
  id: ToolId;
  slots: Record<string, MediaKind>;
  /** What the provider returns. */
  output: MediaKind;
  params: Record<string, ParamSpec>;
  price(params: Params): number;
  limits: MediaLimits;
}

export const TOOLS: Record<ToolId, ToolSpec> = {
  'upscale-image': {
    id: 'upscale-image',
    slots: { image: 'image' },
    output: 'image',
    params: { scale: { values: [2, 4], default: 2 } },
    price: (p) => (p.scale === 4 ? 2 : 1),
    // 4096 × 4096 at most: a 4× upscale of it is already a 268-megapixel result.
    limits: { maxMegapixels: 16.8 },
  },
  'upscale-video': {
    id: 'upscale-video',
    slots: { video: 'video' },
    output: 'video',
    params: { scale: { values: [2], default: 2 } },
    price: () => 5,
    // Full HD for up to two minutes: a 2× upscale of it is 4K.
    limits: { video: { maxSeconds: 120, maxLongSide: 1920, maxShortSide: 1080 } },
  },
  'pose-changer': {
    id: 'pose-changer',
    slots: { person: 'image', pose: 'image' },
    output: 'image',
    params: {},
    price: () => 2,
    limits: { maxMegapixels: 25 },
  },
  'try-on': {
    id: 'try-on',
    slots: { person: 'image', garment: 'image' },
    output: 'image',
    params: { category: { values: ['top', 'bottom', 'full'] } },
    price: () => 3,
    limits: { maxMegapixels: 25 },
  },
};

export function isToolId(value: unknown): value is ToolId {
  return typeof value === 'string' && Object.hasOwn(TOOLS, value);
}

export function outputRule(tool: ToolId): OutputRule {
  const kind = TOOLS[tool].output;
  return { types: MEDIA_TYPES[kind], maxBytes: OUTPUT_LIMITS[kind] };
}
