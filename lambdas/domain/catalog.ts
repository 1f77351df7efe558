/** The one place that knows the tools: their input slots, accepted types, params and prices. */

export type ToolId = 'upscale-image' | 'upscale-video' | 'pose-changer' | 'try-on';
export type MediaKind = 'image' | 'video';

export const MEDIA_TYPES: Record<MediaKind, readonly string[]> = {
  image: ['image/jpeg', 'image/png', 'image/webp'],
  video: ['video/mp4', 'video/quicktime'],
};

export const MB = 1024 * 1024;

/** Size limits per media kind; overridable by env (MAX_IMAGE_BYTES, MAX_VIDEO_BYTES) through config. */
export interface Limits {
  image: number;
  video: number;
}
export const DEFAULT_LIMITS: Limits = { image: 20 * MB, video: 500 * MB };

export type Params = Record<string, string | number>;

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
  params: Record<string, ParamSpec>;
  price(params: Params): number;
  limits: MediaLimits;
}

export const TOOLS: Record<ToolId, ToolSpec> = {
  'upscale-image': {
    id: 'upscale-image',
    slots: { image: 'image' },
    params: { scale: { values: [2, 4], default: 2 } },
    price: (p) => (p.scale === 4 ? 2 : 1),
    // 4096 × 4096 at most: a 4× upscale of it is already a 268-megapixel result.
    limits: { maxMegapixels: 16.8 },
  },
  'upscale-video': {
    id: 'upscale-video',
    slots: { video: 'video' },
    params: { scale: { values: [2], default: 2 } },
    price: () => 5,
    // Full HD for up to two minutes: a 2× upscale of it is 4K.
    limits: { video: { maxSeconds: 120, maxLongSide: 1920, maxShortSide: 1080 } },
  },
  'pose-changer': {
    id: 'pose-changer',
    slots: { person: 'image', pose: 'image' },
    params: {},
    price: () => 2,
    limits: { maxMegapixels: 25 },
  },
  'try-on': {
    id: 'try-on',
    slots: { person: 'image', garment: 'image' },
    params: { category: { values: ['top', 'bottom', 'full'] } },
    price: () => 3,
    limits: { maxMegapixels: 25 },
  },
};

export function isToolId(value: unknown): value is ToolId {
  return typeof value === 'string' && Object.hasOwn(TOOLS, value);
}
