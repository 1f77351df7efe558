import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CODES, type NodeInfo, UPLOAD_LIMIT_BYTES, WORKFLOW_NODES } from '../../lambdas/adapters/runninghub';
import type { ToolId } from '../../lambdas/domain/catalog';
import { type LocalTaskSnapshot, type TaskInput, TaskRunner } from './runner';
import { findFfmpeg } from './transform';

/**
 * A RunningHub-compatible provider for the local stack and the tests: the same `/task/openapi/*` paths,
 * JSON and multipart shapes, HTTP 200 with business codes, the account's concurrency limit (421) and the
 * TASK_END webhook, but the workflows run here, for real, with sharp (and ffmpeg when installed).
 */

export const LOCAL_API_KEY = 'local-runninghub-key';

/** The workflow ids the local stack configures (RUNNINGHUB_WORKFLOWS); the provider knows the tool by them. */
export const LOCAL_WORKFLOWS = {
  'upscale-image': 'local-upscale-image',
  'upscale-video': 'local-upscale-video',
  'pose-changer': 'local-pose-changer',
  'try-on': 'local-try-on',
} as const satisfies Record<ToolId, string>;

export interface LocalProviderOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** How long a task runs, with a little jitter (default 1500). */
  latencyMs?: number;
  /** Share of tasks that end failed with code 805 (0..1, default 0). */
  failRate?: number;
  apiKey?: string;
  /** Tasks allowed to run at once; one more gets 421 TASK_QUEUE_MAXED (default 3, RunningHub's shared-API limit). */
  maxConcurrent?: number;
  /** Where uploads and outputs are kept; omitted, a temporary directory removed by stop(). */
  dataDir?: string;
  /** ffmpeg command; omitted, `ffmpeg` on PATH if it runs; false, as if not installed. */
  ffmpeg?: string | false;
  /** Pauses before the webhook's retries (default [250, 1000]: three attempts in all). */
  webhookRetryDelaysMs?: number[];
  /** Uploads above this get 809 APIKEY_FILE_SIZE_EXCEEDED (default 30 MB, RunningHub's limit). */
  uploadLimitBytes?: number;
}

export interface LocalProvider {
  url: string;
  apiKey: string;
  workflows: Record<ToolId, string>;
  /** Whether upscale-video can run. */
  ffmpeg: boolean;
  tasks(): LocalTaskSnapshot[];
  /** Resolves once the task has ended and its webhook was delivered or given up on. */
  ended(taskId: string): Promise<LocalTaskSnapshot>;
  /** The next created task never ends and never calls back (until cancelled), holding its slot. */
  hangNextTask(): void;
  /** The next create answers this business code instead of starting a task. */
  rejectNextCreate(code: number, msg?: string): void;
  stop(): Promise<void>;
}

const CODE_NAMES = Object.fromEntries(Object.entries(CODES).map(([name, code]) => [code, name])) as Record<number, string>;
const JSON_LIMIT_BYTES = 1024 * 1024;
const CONTENT_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  mp4: 'video/mp4',
  mov: 'video/quicktime',
};

export async function startLocalProvider(options: LocalProviderOptions = {}): Promise<LocalProvider> {
  const latencyMs = options.latencyMs ?? 1500;
  const failRate = options.failRate ?? 0;
  const maxConcurrent = options.maxConcurrent ?? 3;
  if (!(latencyMs >= 0)) throw new Error('latencyMs must be 0 or more');
  if (!(failRate >= 0 && failRate <= 1)) throw new Error('failRate must be between 0 and 1');
  if (!(Number.isInteger(maxConcurrent) && maxConcurrent >= 1)) throw new Error('maxConcurrent must be a whole number of at least 1');
  const apiKey = options.apiKey ?? LOCAL_API_KEY;
  const uploadLimit = options.uploadLimitBytes ?? UPLOAD_LIMIT_BYTES;

  const ownsDir = !options.dataDir;
  const root = options.dataDir ? resolve(options.dataDir) : await mkdtemp(join(tmpdir(), 'ghostless-provider-'));
  const uploadsDir = join(root, 'uploads');
  const outputsDir = join(root, 'outputs');
  await Promise.all([mkdir(uploadsDir, { recursive: true }), mkdir(outputsDir, { recursive: true })]);

  const ffmpeg = options.ffmpeg === false ? null : await findFfmpeg(options.ffmpeg || 'ffmpeg');
  const runner = new TaskRunner({
    latencyMs,
    failRate,
    ffmpeg,
    webhookRetryDelaysMs: options.webhookRetryDelaysMs ?? [250, 1000],
    outputsDir,
    publicUrl: '',
  });
  const uploads = new Map<string, { path: string; contentType: string }>();
  const toolByWorkflow = new Map<string, ToolId>(Object.entries(LOCAL_WORKFLOWS).map(([tool, id]) => [id, tool as ToolId]));
  let rejection: { code: number; msg: string } | null = null;

  async function upload(req: IncomingMessage) {
    const body = await readBody(req, uploadLimit + 64 * 1024);
    if (!body) return fail(CODES.APIKEY_FILE_SIZE_EXCEEDED);
    let form: FormData;
    try {
      form = await new Response(new Uint8Array(body), { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData();
    } catch {
      return fail(CODES.PARAMS_INVALID, 'multipart/form-data expected');
    }
    if (form.get('apiKey') !== apiKey) return fail(CODES.APIKEY_UNAUTHORIZED);
    const file = form.get('file');
    if (!(file instanceof Blob) || file.size === 0) return fail(CODES.PARAMS_INVALID, 'file is required');
    if (file.size > uploadLimit) return fail(CODES.APIKEY_FILE_SIZE_EXCEEDED);
    const bytes = Buffer.from(await file.arrayBuffer());
    const name = file instanceof File ? file.name : '';
    const extension = /\.([a-z0-9]{1,5})$/i.exec(name)?.[1]?.toLowerCase() ?? 'bin';
    const fileName = `api/${createHash('sha256').update(bytes).digest('hex')}.${extension}`;
    const path = join(uploadsDir, fileName.slice('api/'.length));
    // Content-addressed, so concurrent uploads of the same bytes share a path: replace it atomically,
    // never truncate a file another task may be reading.
    const staged = `${path}.${randomUUID()}.tmp`;
    await writeFile(staged, bytes);
    await rename(staged, path);
    uploads.set(fileName, { path, contentType: file.type || CONTENT_TYPES[extension] || 'application/octet-stream' });
    const fileType = form.get('fileType');
    return ok({ fileName, fileType: typeof fileType === 'string' && fileType ? fileType : 'input' });
  }

  function create(body: Record<string, unknown>) {
    if (rejection) {
      const { code, msg } = rejection;
      rejection = null;
      return fail(code, msg);
    }
    const tool = typeof body.workflowId === 'string' ? toolByWorkflow.get(body.workflowId) : undefined;
    if (!tool) return fail(CODES.WORKFLOW_NOT_EXISTS);
    const read = readNodeInfoList(tool, body.nodeInfoList);
    if (typeof read === 'string') return fail(CODES.APIKEY_INVALID_NODE_INFO, read);
    const inputs: Record<string, TaskInput> = {};
    for (const [slot, value] of Object.entries(read.files)) {
      const stored = uploads.get(value);
      if (stored) inputs[slot] = stored;
      else if (/^https?:\/\//.test(value)) inputs[slot] = { url: value };
      else return fail(CODES.PARAMS_INVALID, `${slot}: no uploaded file is named ${value}`);
    }
    if (runner.activeCount() >= maxConcurrent) return fail(CODES.TASK_QUEUE_MAXED);
    const webhookUrl = typeof body.webhookUrl === 'string' && body.webhookUrl ? body.webhookUrl : undefined;
    const taskId = runner.start(tool, read.params, inputs, webhookUrl);
    const promptTips = JSON.stringify({ result: true, error: null, outputs_to_execute: ['99'], node_errors: {} });
    return ok({ netWssUrl: null, taskId, clientId: taskId.slice(-12), taskStatus: 'RUNNING', promptTips });
  }

  function byTask(operation: string, body: Record<string, unknown>) {
    const taskId = typeof body.taskId === 'string' || typeof body.taskId === 'number' ? String(body.taskId) : '';
    if (!taskId) return fail(CODES.PARAMS_INVALID, 'taskId is required');
    if (operation === 'cancel') return runner.cancel(taskId) ? ok(null) : fail(CODES.APIKEY_TASK_NOT_FOUND);
    if (operation === 'status') {
      const status = runner.status(taskId);
      if (!status) return fail(CODES.APIKEY_TASK_NOT_FOUND);
      return { code: CODES.OK, msg: '', data: status === 'CANCELLED' ? 'FAILED' : status };
    }
    return runner.outputsReply(taskId) ?? fail(CODES.APIKEY_TASK_NOT_FOUND);
  }

  async function api(req: IncomingMessage, operation: string) {
    if (operation === 'upload') return upload(req);
    const raw = await readBody(req, JSON_LIMIT_BYTES);
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(raw?.toString('utf8') ?? '');
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      body = parsed as Record<string, unknown>;
    } catch {
      return fail(CODES.PARAMS_INVALID, 'a JSON object body is required');
    }
    if (body.apiKey !== apiKey) return fail(CODES.APIKEY_UNAUTHORIZED);
    if (operation === 'create') return create(body);
    if (operation === 'outputs' || operation === 'status' || operation === 'cancel') return byTask(operation, body);
    return fail(CODES.TOKEN_INVALID); // what RunningHub answers for a path it does not know
  }

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const handled =
      req.method === 'POST' && path.startsWith('/task/openapi/')
        ? api(req, path.slice('/task/openapi/'.length)).then((reply) => sendJson(res, reply))
        : (req.method === 'GET' || req.method === 'HEAD') && path.startsWith('/files/')
          ? serveFile(res, outputsDir, decodeURIComponent(path.slice('/files/'.length)), req.method === 'HEAD')
          : Promise.resolve(sendJson(res, { code: 404, msg: 'NOT_FOUND', data: null }, 404));
    handled.catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, { code: CODES.UNKNOWN_ERROR, msg: errorText(error), data: null }, 500);
      else res.destroy();
    });
  });
  await new Promise<void>((done, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => done());
  });
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  runner.options.publicUrl = url;

  return {
    url,
    apiKey,
    workflows: { ...LOCAL_WORKFLOWS },
    ffmpeg: ffmpeg !== null,
    tasks: () => runner.snapshot(),
    ended: (taskId) => runner.ended(taskId),
    hangNextTask: () => runner.hangNextTask(),
    rejectNextCreate(code, msg) {
      rejection = { code, msg: msg ?? CODE_NAMES[code] ?? 'ERROR' };
    },
    async stop() {
      runner.stop();
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
      if (ownsDir) await rm(root, { recursive: true, force: true });
    },
  };
}

/** Which slot and param each nodeInfoList entry carries, read through the client's own node table. */
export function readNodeInfoList(
  tool: ToolId,
  list: unknown,
): { files: Record<string, string>; params: Record<string, string | number> } | string {
  if (!Array.isArray(list)) return 'nodeInfoList must be an array';
  const entries = list as Partial<NodeInfo>[];
  const find = (nodeId: string, fieldName: string) => entries.find((e) => String(e?.nodeId) === nodeId && e?.fieldName === fieldName);
  const nodes = WORKFLOW_NODES[tool];
  const files: Record<string, string> = {};
  for (const [slot, field] of Object.entries(nodes.slots)) {
    const value = find(field.nodeId, field.fieldName)?.fieldValue;
    if (typeof value !== 'string' || !value) return `node ${field.nodeId} (${field.fieldName}) needs the "${slot}" file`;
    files[slot] = value;
  }
  const params: Record<string, string | number> = {};
  for (const [name, field] of Object.entries(nodes.params)) {
    const value = find(field.nodeId, field.fieldName)?.fieldValue;
    if (value === undefined) continue;
    if (name === 'scale') {
      const scale = Number(value);
      if (!(scale > 0 && scale <= 8)) return `node ${field.nodeId} (${field.fieldName}) must be a number between 0 and 8`;
      params[name] = scale;
    } else if (typeof value === 'string' || typeof value === 'number') params[name] = value;
  }
  return { files, params };
}

function ok(data: unknown) {
  return { code: CODES.OK, msg: 'success', data };
}

function fail(code: number, msg?: string) {
  return { code, msg: msg ?? CODE_NAMES[code] ?? 'ERROR', data: null };
}

function sendJson(res: ServerResponse, body: unknown, status = 200) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The whole body, or null past `limit` bytes (the rest is drained so the client still reads the answer). */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  }
  return size > limit ? null : Buffer.concat(chunks);
}

async function serveFile(res: ServerResponse, dir: string, name: string, headOnly: boolean) {
  const extension = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase() ?? '';
  const info = /^[\w.-]+$/.test(name) ? await stat(join(dir, name)).catch(() => null) : null;
  if (!info?.isFile()) {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('Not found');
    return;
  }
  res.writeHead(200, { 'content-type': CONTENT_TYPES[extension] ?? 'application/octet-stream', 'content-length': info.size });
  if (headOnly) {
    res.end();
    return;
  }
  await new Promise<void>((done, reject) => {
    createReadStream(join(dir, name)).on('error', reject).pipe(res).on('finish', done).on('close', done);
  });
}

function errorText(error: unknown) {
  return error instanceof Error ? error.message : String(error);
}
