import { type Params, TOOLS, type ToolId } from '../domain/catalog';
import { ProviderBusy, ProviderFailed } from '../domain/errors';
import type { Provider, ProviderOutcome, ProviderTaskRequest } from '../domain/ports';

/**
 * RunningHub's ComfyUI workflow API (`/task/openapi/*`). Every answer is HTTP 200 with a business
 * `code`; this adapter turns it into the Provider port: ProviderBusy (retry later), ProviderFailed
 * (give up), or a plain Error for anything transient (network, timeouts, HTTP 5xx).
 */

export const TOOL_IDS = Object.keys(TOOLS) as ToolId[];

/** RunningHub business codes this adapter (and the local provider) speak. */
export const CODES = {
  OK: 0,
  PARAMS_INVALID: 301,
  WORKFLOW_NOT_EXISTS: 380,
  TOKEN_INVALID: 412,
  TASK_INSTANCE_MAXED: 415,
  TASK_CREATE_FAILED_BY_NOT_ENOUGH_WALLET: 416,
  TASK_QUEUE_MAXED: 421,
  TASK_NOT_FOUNED: 423,
  UNKNOWN_ERROR: 500,
  APIKEY_UNAUTHORIZED: 802,
  APIKEY_INVALID_NODE_INFO: 803,
  APIKEY_TASK_IS_RUNNING: 804,
  APIKEY_TASK_STATUS_ERROR: 805,
  APIKEY_TASK_NOT_FOUND: 807,
  APIKEY_UPLOAD_FAILED: 808,
  APIKEY_FILE_SIZE_EXCEEDED: 809,
  APIKEY_TASK_IS_QUEUED: 813,
} as const;

/** The account (421) or the dedicated instances (415) are at capacity: the same request may pass later. */
const BUSY_CODES: ReadonlySet<number> = new Set([CODES.TASK_QUEUE_MAXED, CODES.TASK_INSTANCE_MAXED]);
/** Server-side hiccups RunningHub documents as "retry": treated like a network error. */
const TRANSIENT_CODES: ReadonlySet<number> = new Set([CODES.UNKNOWN_ERROR, CODES.APIKEY_UPLOAD_FAILED]);
/** Answers to `cancel` that mean "nothing left to stop". */
const ALREADY_ENDED_CODES: ReadonlySet<number> = new Set([
  CODES.APIKEY_TASK_NOT_FOUND,
  CODES.TASK_NOT_FOUNED,
  CODES.APIKEY_TASK_STATUS_ERROR,
]);

/** RunningHub's upload endpoint refuses files over 30 MB; its docs say to pass larger inputs by URL. */
export const UPLOAD_LIMIT_BYTES = 30 * 1024 * 1024;

export interface NodeField {
  nodeId: string;
  fieldName: string;
}

export interface NodeInfo extends NodeField {
  fieldValue: string | number;
}

/**
 * Node ids of the ComfyUI workflows published on RunningHub. They are facts of each workflow (see its
 * "Get Workflow JSON" export), not of Ghostless: an operator who publishes or edits a workflow sets
 * them here. The local provider reads the same table, so both sides agree by construction.
 */
const UPSCALE_IMAGE_LOAD = '10'; // LoadImage
const UPSCALE_IMAGE_FACTOR = '12'; // ImageScaleBy
const UPSCALE_VIDEO_LOAD = '20'; // VHS_LoadVideo
const UPSCALE_VIDEO_FACTOR = '22'; // ImageScaleBy
const POSE_PERSON_LOAD = '30'; // LoadImage
const POSE_REFERENCE_LOAD = '31'; // LoadImage
const TRYON_PERSON_LOAD = '40'; // LoadImage
const TRYON_GARMENT_LOAD = '41'; // LoadImage
const TRYON_CATEGORY = '45'; // try-on node's garment category

export const WORKFLOW_NODES: Record<ToolId, { slots: Record<string, NodeField>; params: Record<string, NodeField> }> = {
  'upscale-image': {
    slots: { image: { nodeId: UPSCALE_IMAGE_LOAD, fieldName: 'image' } },
    params: { scale: { nodeId: UPSCALE_IMAGE_FACTOR, fieldName: 'scale_by' } },
  },
  'upscale-video': {
    slots: { video: { nodeId: UPSCALE_VIDEO_LOAD, fieldName: 'video' } },
    params: { scale: { nodeId: UPSCALE_VIDEO_FACTOR, fieldName: 'scale_by' } },
  },
  'pose-changer': {
    slots: {
      person: { nodeId: POSE_PERSON_LOAD, fieldName: 'image' },
      pose: { nodeId: POSE_REFERENCE_LOAD, fieldName: 'image' },
    },
    params: {},
  },
  'try-on': {
    slots: {
      person: { nodeId: TRYON_PERSON_LOAD, fieldName: 'image' },
      garment: { nodeId: TRYON_GARMENT_LOAD, fieldName: 'image' },
    },
    params: { category: { nodeId: TRYON_CATEGORY, fieldName: 'category' } },
  },
};

/** The nodeInfoList for one task: each slot's uploaded fileName (or URL) and each param the workflow takes. */
export function buildNodeInfoList(tool: ToolId, params: Params, files: Record<string, string>): NodeInfo[] {
  const nodes = WORKFLOW_NODES[tool];
  const list: NodeInfo[] = [];
  for (const [slot, field] of Object.entries(nodes.slots)) {
    const fieldValue = files[slot];
    if (fieldValue === undefined) throw new ProviderFailed(`No input was given for slot "${slot}" of ${tool}`);
    list.push({ ...field, fieldValue });
  }
  for (const [name, field] of Object.entries(nodes.params)) {
    const fieldValue = params[name] ?? TOOLS[tool].params[name]?.default;
    if (fieldValue !== undefined) list.push({ ...field, fieldValue });
  }
  return list;
}

/**
 * Validates the workflow-id map from the environment (RUNNINGHUB_WORKFLOWS), e.g.
 * `{"upscale-image":"1904136902449209346", ...}`. Ids must be strings: as JSON numbers they lose digits.
 */
export function parseWorkflows(json: string, name = 'RUNNINGHUB_WORKFLOWS'): Record<ToolId, string> {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new Error(`${name} is not valid JSON; expected {"upscale-image":"<workflowId>", ...}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${name} must be a JSON object mapping each tool to its RunningHub workflow id`);
  }
  const entries = value as Record<string, unknown>;
  const problems: string[] = [];
  const missing = TOOL_IDS.filter((tool) => !(tool in entries));
  if (missing.length) problems.push(`missing ${missing.join(', ')}`);
  const unknown = Object.keys(entries).filter((key) => !TOOL_IDS.includes(key as ToolId));
  if (unknown.length) problems.push(`unknown tool ${unknown.join(', ')}`);
  for (const tool of TOOL_IDS) {
    const id = entries[tool];
    if (id === undefined) continue;
    if (typeof id !== 'string') problems.push(`${tool} must be a string (quote the id)`);
    else if (!id.trim()) problems.push(`${tool} is empty`);
  }
  if (problems.length) throw new Error(`${name}: ${problems.join('; ')}`);
  return Object.fromEntries(TOOL_IDS.map((tool) => [tool, (entries[tool] as string).trim()])) as Record<ToolId, string>;
}

export interface RunningHubOptions {
  /** e.g. https://www.runninghub.ai (international) or https://www.runninghub.cn. */
  baseUrl: string;
  apiKey: string;
  workflows: Record<ToolId, string>;
  fetch?: typeof fetch;
  /** Per API call. */
  requestTimeoutMs?: number;
  /** Per input: download from S3 plus upload to RunningHub. */
  transferTimeoutMs?: number;
  /** Inputs larger than this are passed to the workflow by URL instead of uploaded. */
  uploadLimitBytes?: number;
}

/** Reads RUNNINGHUB_BASE_URL, RUNNINGHUB_API_KEY and RUNNINGHUB_WORKFLOWS; a missing one fails with its name. */
export function runningHubOptionsFromEnv(env: Record<string, string | undefined> = process.env): RunningHubOptions {
  const apiKey = env.RUNNINGHUB_API_KEY;
  const workflows = env.RUNNINGHUB_WORKFLOWS;
  if (!apiKey) throw new Error('Missing environment variable RUNNINGHUB_API_KEY');
  if (!workflows) throw new Error('Missing environment variable RUNNINGHUB_WORKFLOWS');
  return { baseUrl: env.RUNNINGHUB_BASE_URL || 'https://www.runninghub.ai', apiKey, workflows: parseWorkflows(workflows) };
}

interface Envelope {
  code: number;
  msg: string;
  data: unknown;
  /** The raw body, for ids too long to survive JSON.parse as numbers. */
  raw: string;
}

/** The error for a non-zero business code: busy → ProviderBusy, server hiccup → Error, anything else → ProviderFailed. */
export function businessError(operation: string, code: number, msg: string): Error {
  const text = `RunningHub ${operation}: ${code} ${msg}`.trim();
  if (BUSY_CODES.has(code)) return new ProviderBusy(text);
  if (TRANSIENT_CODES.has(code)) return new Error(text);
  return new ProviderFailed(text);
}

/** A readable sentence from 805's `failedReason` (a ComfyUI exception object, or sometimes a plain string). */
export function describeFailure(failedReason: unknown, fallback: string): string {
  let text = fallback;
  if (typeof failedReason === 'string' && failedReason.trim()) text = failedReason.trim();
  else if (failedReason && typeof failedReason === 'object') {
    const r = failedReason as Record<string, unknown>;
    const str = (value: unknown) => (typeof value === 'string' || typeof value === 'number' ? String(value).trim() : '');
    const type = str(r.exception_type);
    const message = str(r.exception_message) || type;
    const node = str(r.node_name) && `node ${str(r.node_name)}${str(r.node_id) && ` #${str(r.node_id)}`}`;
    const where = [type !== message ? type : '', node].filter(Boolean).join(' in ');
    if (message) text = where ? `${message} (${where})` : message;
  }
  return text.length > 500 ? `${text.slice(0, 497)}...` : text;
}

export class RunningHubProvider implements Provider {
  readonly #apiKey: string;
  readonly #baseUrl: string;
  readonly #workflows: Record<ToolId, string>;
  readonly #fetch: typeof fetch;
  readonly #requestTimeoutMs: number;
  readonly #transferTimeoutMs: number;
  readonly #uploadLimitBytes: number;

  constructor(options: RunningHubOptions) {
    this.#apiKey = options.apiKey;
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#workflows = options.workflows;
    // Called unbound: some fetch implementations refuse a foreign `this`.
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    // Defaults keep one createTask (parallel transfers, then create) well inside a 120 s Lambda.
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
    this.#transferTimeoutMs = options.transferTimeoutMs ?? 60_000;
    this.#uploadLimitBytes = options.uploadLimitBytes ?? UPLOAD_LIMIT_BYTES;
  }

  async createTask(request: ProviderTaskRequest): Promise<{ taskId: string }> {
    const workflowId = this.#workflows[request.tool];
    if (!workflowId) throw new ProviderFailed(`No RunningHub workflow is configured for ${request.tool}`);
    const staged = await Promise.all(request.inputs.map(async (input) => [input.slot, await this.#stage(input)] as const));
    const nodeInfoList = buildNodeInfoList(request.tool, request.params, Object.fromEntries(staged));
    const reply = await this.#call('create', { workflowId, nodeInfoList, webhookUrl: request.webhookUrl });
    const taskId = readTaskId(reply);
    if (!taskId) throw new Error('RunningHub create: the answer carries no taskId');
    return { taskId };
  }

  async outputs(taskId: string): Promise<ProviderOutcome> {
    const { code, msg, data } = await this.#send('outputs', { taskId });
    if (code === CODES.APIKEY_TASK_IS_RUNNING || code === CODES.APIKEY_TASK_IS_QUEUED) return { status: 'running' };
    if (code === CODES.APIKEY_TASK_STATUS_ERROR) {
      const failedReason = (data as { failedReason?: unknown } | null)?.failedReason;
      return { status: 'failed', reason: this.#redact(describeFailure(failedReason, `The task failed (${msg || code})`)) };
    }
    if (code !== CODES.OK) throw this.#error('outputs', code, msg);
    // Some deployments answer code 0 with no data while the task is still being scheduled.
    if (data === null || data === undefined) return { status: 'running' };
    if (!Array.isArray(data)) throw new Error('RunningHub outputs: unexpected answer shape');
    const outputs = data
      .filter((item): item is { fileUrl: string; fileType?: unknown } => typeof item?.fileUrl === 'string' && item.fileUrl !== '')
      .map((item) => ({ fileUrl: item.fileUrl, fileType: typeof item.fileType === 'string' ? item.fileType : '' }));
    if (!outputs.length) return { status: 'failed', reason: 'The task finished without producing any output.' };
    return { status: 'succeeded', outputs };
  }

  async cancel(taskId: string): Promise<void> {
    const { code, msg } = await this.#send('cancel', { taskId });
    if (code === CODES.OK || ALREADY_ENDED_CODES.has(code)) return;
    throw this.#error('cancel', code, msg);
  }

  /** Gets one input into RunningHub: its fileName after an upload, or its URL when it is too large to upload. */
  async #stage(input: ProviderTaskRequest['inputs'][number]): Promise<string> {
    const signal = AbortSignal.timeout(this.#transferTimeoutMs);
    let response: Response;
    try {
      response = await this.#fetch(input.url, { signal });
    } catch (error) {
      // The presigned URL carries a signature: name the slot, never the URL.
      throw new Error(`Downloading input "${input.slot}" failed: ${errorText(error)}`);
    }
    if (response.status >= 500) throw new Error(`Downloading input "${input.slot}" failed with HTTP ${response.status}`);
    if (!response.ok) throw new ProviderFailed(`Input "${input.slot}" could not be read (HTTP ${response.status})`);
    const declared = Number(response.headers.get('content-length'));
    if (declared > this.#uploadLimitBytes) {
      await response.body?.cancel();
      return input.url;
    }
    const bytes = await response.arrayBuffer().catch((error: unknown) => {
      throw new Error(`Downloading input "${input.slot}" failed: ${errorText(error)}`);
    });
    if (bytes.byteLength > this.#uploadLimitBytes) return input.url;

    const form = new FormData();
    form.set('apiKey', this.#apiKey);
    form.set('fileType', input.contentType.startsWith('video/') ? 'video' : 'image');
    form.set('file', new Blob([bytes], { type: input.contentType }), `${input.slot}.${extension(input.contentType)}`);
    const reply = await this.#request('upload', { body: form, signal }, (code, msg) => this.#error('upload', code, msg));
    const fileName = (reply.data as { fileName?: unknown } | null)?.fileName;
    if (typeof fileName !== 'string' || !fileName) throw new Error('RunningHub upload: the answer carries no fileName');
    return fileName;
  }

  /** A JSON call whose non-zero codes all become errors. */
  #call(operation: string, body: Record<string, unknown>) {
    return this.#request(
      operation,
      { body: JSON.stringify({ apiKey: this.#apiKey, ...body }), headers: { 'content-type': 'application/json' } },
      (code, msg) => this.#error(operation, code, msg),
    );
  }

  /** A JSON call whose business code the caller interprets. */
  #send(operation: string, body: Record<string, unknown>) {
    return this.#request(operation, {
      body: JSON.stringify({ apiKey: this.#apiKey, ...body }),
      headers: { 'content-type': 'application/json' },
    });
  }

  async #request(
    operation: string,
    init: { body: BodyInit; headers?: Record<string, string>; signal?: AbortSignal },
    onBusinessError?: (code: number, msg: string) => Error,
  ): Promise<Envelope> {
    const url = `${this.#baseUrl}/task/openapi/${operation}`;
    let response: Response;
    let raw: string;
    try {
      response = await this.#fetch(url, {
        method: 'POST',
        body: init.body,
        headers: init.headers,
        signal: init.signal ?? AbortSignal.timeout(this.#requestTimeoutMs),
      });
      raw = await response.text();
    } catch (error) {
      throw new Error(this.#redact(`RunningHub ${operation}: ${errorText(error)}`));
    }
    if (response.status >= 500) throw new Error(`RunningHub ${operation}: HTTP ${response.status}`);
    if (response.status === 429) throw new ProviderBusy(`RunningHub ${operation}: HTTP 429`);
    if (!response.ok) throw new ProviderFailed(`RunningHub ${operation}: HTTP ${response.status}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw new Error(`RunningHub ${operation}: the answer is not JSON`);
    }
    const { code, msg, data } = (parsed ?? {}) as { code?: unknown; msg?: unknown; data?: unknown };
    if (typeof code !== 'number') throw new Error(`RunningHub ${operation}: the answer has no business code`);
    const envelope = { code, msg: typeof msg === 'string' ? msg : '', data, raw };
    if (code !== CODES.OK && onBusinessError) throw onBusinessError(code, envelope.msg);
    return envelope;
  }

  #error(operation: string, code: number, msg: string) {
    return businessError(operation, code, this.#redact(msg));
  }

  /** RunningHub never should echo the key, but messages end up in job records and logs. */
  #redact(text: string) {
    return this.#apiKey.length >= 4 ? text.split(this.#apiKey).join('***') : text;
  }

  /** Keeps the key out of console.log / JSON of the provider object. */
  toJSON() {
    return { provider: 'runninghub', baseUrl: this.#baseUrl };
  }
}

/** `data.taskId`, read from the raw text when it arrives as a number too long for a double. */
function readTaskId(reply: Envelope): string | null {
  const value = (reply.data as { taskId?: unknown } | null)?.taskId;
  if (typeof value === 'string' && value) return value;
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value)) return String(value);
    return /"taskId"\s*:\s*(\d+)/.exec(reply.raw)?.[1] ?? null;
  }
  return null;
}

function errorText(error: unknown) {
  if (error instanceof Error) return error.name === 'TimeoutError' ? 'timed out' : error.message;
  return String(error);
}

const EXTENSIONS: Record<string, string> = {
  'image/jpeg': 'jpg',
  'image/png': 'png',
  'image/webp': 'webp',
  'video/mp4': 'mp4',
  'video/quicktime': 'mov',
};

function extension(contentType: string) {
  return EXTENSIONS[contentType] ?? 'bin';
}
