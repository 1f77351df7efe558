import { DEFAULT_LIMITS, isToolId, type Limits, MEDIA_TYPES, type Params, TOOLS, type ToolSpec } from './catalog';
import { FileTooLarge, InvalidRequest, UnsupportedMediaType } from './errors';

interface FileRequest {
  slot: string;
  contentType: string;
  size: number;
}

export interface UploadRequest {
  tool: ToolSpec;
  params: Params;
  files: FileRequest[];
  cost: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Validates the body of `POST /api/uploads`; every rejection is a named error with a sentence a user can act on. */
export function parseUploadRequest(body: unknown, limits: Limits = DEFAULT_LIMITS): UploadRequest {
  if (!isObject(body)) throw new InvalidRequest('The body must be a JSON object with tool, params and files.');
  if (!isToolId(body.tool)) {
    throw new InvalidRequest(`Unknown tool; use one of ${Object.keys(TOOLS).join(', ')}.`);
  }
  const tool = TOOLS[body.tool];
  const params = parseParams(tool, body.params ?? {});
  const files = parseFiles(tool, body.files, limits);
  return { tool, params, files, cost: tool.price(params) };
}

function parseParams(tool: ToolSpec, raw: unknown): Params {
  if (!isObject(raw)) throw new InvalidRequest('params must be an object.');
  const params: Params = {};
  for (const name of Object.keys(raw)) {
    if (!Object.hasOwn(tool.params, name)) throw new InvalidRequest(`${tool.id} takes no parameter "${name}".`);
  }
  for (const [name, spec] of Object.entries(tool.params)) {
    const value = raw[name] ?? spec.default;
    if (value === undefined) {
      throw new InvalidRequest(`${tool.id} needs "${name}": one of ${spec.values.join(', ')}.`);
    }
    if (!spec.values.includes(value as string | number)) {
      throw new InvalidRequest(`"${name}" must be one of ${spec.values.join(', ')}.`);
    }
    params[name] = value as string | number;
  }
  return params;
}

function parseFiles(tool: ToolSpec, raw: unknown, limits: Limits): FileRequest[] {
  const slots = Object.keys(tool.slots);
  if (!Array.isArray(raw)) throw new InvalidRequest(`files must be a list with one entry per slot: ${slots.join(', ')}.`);
  const seen = new Set<string>();
  const files = raw.map((file): FileRequest => {
    if (!isObject(file)) throw new InvalidRequest('Each file must be an object with slot, contentType and size.');
    const { slot, contentType, size } = file;
    if (typeof slot !== 'string' || !Object.hasOwn(tool.slots, slot)) {
      throw new InvalidRequest(`${tool.id} has no slot "${String(slot)}"; its slots are ${slots.join(', ')}.`);
    }
    if (seen.has(slot)) throw new InvalidRequest(`Slot "${slot}" appears twice.`);
    seen.add(slot);
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size <= 0) {
      throw new InvalidRequest(`The size of "${slot}" must be a positive whole number of bytes.`);
    }
    const kind = tool.slots[slot] as keyof typeof MEDIA_TYPES;
    const accepted = MEDIA_TYPES[kind];
    if (typeof contentType !== 'string' || !accepted.includes(contentType)) {
      throw new UnsupportedMediaType(slot, String(contentType), accepted);
    }
    if (size > limits[kind]) throw new FileTooLarge(slot, limits[kind]);
    return { slot, contentType, size };
  });
  const missing = slots.filter((slot) => !seen.has(slot));
  if (missing.length > 0) throw new InvalidRequest(`Missing file for ${missing.join(', ')}.`);
  return files;
}
