import { createHash, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CODES, UPLOAD_LIMIT_BYTES } from '../../lambdas/adapters/runninghub-protocol';
import { CONTENT_TYPES, codeName, fail, ok, readBody, sendJson, serveFile } from './http-replies';
import { errorText, type TaskInput } from './run-workflow';
import { type LocalTaskSnapshot, TaskRunner } from './runner';
import { findFfmpeg } from './transform';
import {
  applyNodeInfoList,
  BUNDLED_WORKFLOW_MAP,
  BUNDLED_WORKFLOW_MAP_JSON,
  BUNDLED_WORKFLOWS,
  type ProviderWorkflow,
  readValues,
} from './workflows';

/**
 * A RunningHub-compatible provider for the local stack and the tests, written from RunningHub's public API
 * documentation: the same paths (`/task/openapi/*`, `/uc/openapi/accountStatus`, `/api/openapi/getJsonApiFormat`),
 * JSON and multipart shapes, HTTP 200 with business codes, the key's concurrency limit shared with its other
 * clients (421), nodeInfoList checked against its own workflows (803), and the TASK_END webhook. The
 * workflows run here, for real, with sharp (and ffmpeg when installed).
 */

const LOCAL_API_KEY = 'local-runninghub-key';

/** The stack's `runningHub` prop for the bundled provider: its key and the operator map of its workflows. */
export const BUNDLED_ACCOUNT = { apiKey: LOCAL_API_KEY, workflows: BUNDLED_WORKFLOW_MAP_JSON };

/** RunningHub retries an unanswered TASK_END minutes apart; `webhookRetryScale` shrinks the schedule for tests. */
const WEBHOOK_RETRY_SCHEDULE_MS = [60_000, 120_000, 300_000, 600_000];

export interface LocalProviderOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  /** How long a task runs, with a little jitter (default 1500). */
  latencyMs?: number;
  /** How long a task waits QUEUED before it runs (default a tenth of latencyMs, at most 250). */
  queueMs?: number;
  /** Share of tasks that end failed with code 805 (0..1, default 0). */
  failRate?: number;
  /** Share of creates answered with code 500 before any task starts (0..1, default 0; the local stack's PROVIDER_CREATE_FAIL_RATE). */
  createFailRate?: number;
  apiKey?: string;
  /** Tasks the key may run at once, counting every client of the key (default 3, the shared-API limit). */
  maxConcurrent?: number;
  /** Tasks the key runs for clients other than Ghostless, holding slots (default 0; the local stack's PROVIDER_FOREIGN_TASKS). */
  foreignTasks?: number;
  /** Where uploads and outputs are kept; omitted, a temporary directory removed by stop(). */
  dataDir?: string;
  /** ffmpeg command; omitted, `ffmpeg` on PATH if it runs; false, as if not installed. */
  ffmpeg?: string | false;
  /** Pauses before the webhook's retries; default WEBHOOK_RETRY_SCHEDULE_MS times webhookRetryScale. */
  webhookRetryDelaysMs?: number[];
  /** Multiplies the default webhook retry schedule (default 1; the local stack's PROVIDER_WEBHOOK_RETRY_SCALE). */
  webhookRetryScale?: number;
  /** Uploads above this get 809 APIKEY_FILE_SIZE_EXCEEDED (default 30 MB decimal, RunningHub's limit). */
  uploadLimitBytes?: number;
  /** The provider's own workflows and AI apps by id (default BUNDLED_WORKFLOWS). */
  workflows?: Record<string, ProviderWorkflow>;
}

export interface LocalProvider {
  url: string;
  apiKey: string;
  /** The RUNNINGHUB_WORKFLOWS map for this provider's own workflows. */
  workflows: typeof BUNDLED_WORKFLOW_MAP;
  /** Whether upscale-video can run. */
  ffmpeg: boolean;
  tasks(): LocalTaskSnapshot[];
  /** Resolves once the task has ended and its webhook was delivered or given up on. */
  ended(taskId: string): Promise<LocalTaskSnapshot>;
  /** The next created task never ends and never calls back (until cancelled), holding its slot. */
  hangNextTask(): void;
  /** The next create answers this business code instead of starting a task. */
  rejectNextCreate(code: number, msg?: string): void;
  /** The next create starts its task, then drops the connection before answering (an answer lost on the way). */
  loseNextCreateAnswer(): void;
  /** The next `count` creates each start their task and then drop the connection before answering. */
  loseCreateAnswers(count: number): void;
  /** Tasks of other clients of the same key. */
  setForeignTasks(count: number): void;
  /** How many creates were answered with each non-zero code (421 when the key was full, 500 injected…). */
  refusals(): Record<number, number>;
  /** How many files `/task/openapi/upload` accepted (each answered with a fileName). */
  uploadCount(): number;
  stop(): Promise<void>;
}

const JSON_LIMIT_BYTES = 1024 * 1024;
/** Node classes whose value is a file: an uploaded fileName or a URL. */
const FILE_NODES = /^(LoadImage|LoadVideo|VHS_LoadVideo)/;
/** Marks an answer the server must not send: the connection is dropped instead. */
const DROP = Symbol('drop');
type Reply = { code: number; msg: string; data: unknown } | typeof DROP;

export async function startLocalProvider(options: LocalProviderOptions = {}): Promise<LocalProvider> {
  const latencyMs = options.latencyMs ?? 1500;
  const failRate = options.failRate ?? 0;
  const createFailRate = options.createFailRate ?? 0;
  const maxConcurrent = options.maxConcurrent ?? 3;
  let foreignTasks = options.foreignTasks ?? 0;
  const retryScale = options.webhookRetryScale ?? 1;
  if (!(latencyMs >= 0)) throw new Error('latencyMs must be 0 or more');
  if (!(failRate >= 0 && failRate <= 1)) throw new Error('failRate must be between 0 and 1');
  if (!(createFailRate >= 0 && createFailRate <= 1)) throw new Error('createFailRate must be between 0 and 1');
  if (!(Number.isInteger(maxConcurrent) && maxConcurrent >= 1)) throw new Error('maxConcurrent must be a whole number of at least 1');
  if (!(Number.isInteger(foreignTasks) && foreignTasks >= 0)) throw new Error('foreignTasks must be a whole number');
  if (!(retryScale >= 0)) throw new Error('webhookRetryScale must be 0 or more');
  const apiKey = options.apiKey ?? LOCAL_API_KEY;
  const uploadLimit = options.uploadLimitBytes ?? UPLOAD_LIMIT_BYTES;
  const workflows = options.workflows ?? BUNDLED_WORKFLOWS;

  const ownsDir = !options.dataDir;
  const root = options.dataDir ? resolve(options.dataDir) : await mkdtemp(join(tmpdir(), 'ghostless-provider-'));
  const uploadsDir = join(root, 'uploads');
  const outputsDir = join(root, 'outputs');
  await Promise.all([mkdir(uploadsDir, { recursive: true }), mkdir(outputsDir, { recursive: true })]);

  const ffmpeg = options.ffmpeg === false ? null : await findFfmpeg(options.ffmpeg || 'ffmpeg');
  const runner = new TaskRunner({
    latencyMs,
    queueMs: options.queueMs ?? Math.min(250, Math.round(latencyMs / 10)),
    failRate,
    ffmpeg,
    webhookRetryDelaysMs: options.webhookRetryDelaysMs ?? WEBHOOK_RETRY_SCHEDULE_MS.map((ms) => Math.round(ms * retryScale)),
    outputsDir,
    publicUrl: '',
  });
  const uploads = new Map<string, { path: string; contentType: string }>();
  let rejection: { code: number; msg: string } | null = null;
  let answersToLose = 0;
  const refused: Record<number, number> = {};
  let uploaded = 0;
  const refuse = (code: number, msg?: string) => {
    refused[code] = (refused[code] ?? 0) + 1;
    return fail(code, msg);
  };

  async function upload(req: IncomingMessage): Promise<Reply> {
    const body = await readBody(req, uploadLimit + 64 * 1024);
    if (!body) return fail(CODES.APIKEY_FILE_SIZE_EXCEEDED);
    let form: FormData;
    try {
      form = await new Response(new Uint8Array(body), { headers: { 'content-type': req.headers['content-type'] ?? '' } }).formData();
    } catch {
      return fail(CODES.PARAMS_INVALID, 'multipart/form-data expected');
    }
    if (!authorized(req, form.get('apiKey'))) return fail(CODES.APIKEY_UNAUTHORIZED);
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
    uploaded++;
    const fileType = form.get('fileType');
    return ok({ fileName, fileType: typeof fileType === 'string' && fileType ? fileType : 'input' });
  }

  /** `/task/openapi/create` (workflowId) and `/task/openapi/ai-app/run` (webappId). */
  function create(body: Record<string, unknown>, kind: ProviderWorkflow['kind']): Reply {
    if (rejection) {
      const { code, msg } = rejection;
      rejection = null;
      return refuse(code, msg);
    }
    if (Math.random() < createFailRate) return refuse(CODES.UNKNOWN_ERROR, 'Injected transient failure');
    const id = String(body[kind === 'workflow' ? 'workflowId' : 'webappId'] ?? '');
    const workflow = workflows[id];
    if (!workflow || workflow.kind !== kind) return refuse(CODES.WORKFLOW_NOT_EXISTS);
    const prompt = applyNodeInfoList(workflow, body.nodeInfoList);
    if (typeof prompt === 'string') return refuse(CODES.APIKEY_INVALID_NODE_INFO, prompt);
    const values = readValues(workflow, prompt);
    const inputs: Record<string, TaskInput> = {};
    const params: Record<string, string | number> = {};
    for (const [name, [nodeId]] of Object.entries(workflow.reads)) {
      const value = values[name] ?? '';
      if (!FILE_NODES.test(prompt[nodeId]?.class_type ?? '')) {
        params[name] = value;
        continue;
      }
      const stored = uploads.get(value);
      if (stored) inputs[name] = stored;
      else if (/^https?:\/\//.test(value)) inputs[name] = { url: value };
      else return refuse(CODES.VALIDATE_PROMPT_FAILED, `node ${nodeId}: no uploaded file is named ${value}`);
    }
    if (runner.activeCount() + foreignTasks >= maxConcurrent) return refuse(CODES.TASK_QUEUE_MAXED);
    const webhookUrl = typeof body.webhookUrl === 'string' && body.webhookUrl ? body.webhookUrl : undefined;
    const taskId = runner.start(workflow.runs, params, inputs, webhookUrl);
    if (answersToLose > 0) {
      answersToLose--;
      return DROP;
    }
    const promptTips = JSON.stringify({ result: true, error: null, outputs_to_execute: ['99'], node_errors: {} });
    return ok({ netWssUrl: null, taskId, clientId: taskId.slice(-12), taskStatus: 'QUEUED', promptTips });
  }

  function byTask(operation: string, body: Record<string, unknown>): Reply {
    const taskId = typeof body.taskId === 'string' || typeof body.taskId === 'number' ? String(body.taskId) : '';
    if (!taskId) return fail(CODES.PARAMS_INVALID, 'taskId is required');
    if (operation === 'cancel') return runner.cancel(taskId) === 'cancelled' ? ok(null) : fail(CODES.APIKEY_TASK_NOT_FOUND);
    if (operation === 'status') {
      const status = runner.status(taskId);
      if (!status) return fail(CODES.APIKEY_TASK_NOT_FOUND);
      return ok(status === 'CANCELLED' ? 'FAILED' : status);
    }
    return runner.outputsReply(taskId) ?? fail(CODES.APIKEY_TASK_NOT_FOUND);
  }

  /** `Get Workflow JSON`: the workflow's API format as a JSON string in `data.prompt`. */
  function apiFormat(body: Record<string, unknown>): Reply {
    const workflow = workflows[String(body.workflowId ?? '')];
    if (workflow?.kind !== 'workflow') return fail(CODES.WORKFLOW_NOT_EXISTS);
    return ok({ prompt: JSON.stringify(workflow.prompt) });
  }

  function accountStatus(): Reply {
    const running = runner.activeCount() + foreignTasks;
    return ok({ remainCoins: '10000', currentTaskCounts: String(running), remainMoney: '100.00', currency: 'USD', apiType: 'NORMAL' });
  }

  /** The key as the body's `apiKey` (or `apikey`, as accountStatus spells it), or `Authorization: Bearer`. */
  function authorized(req: IncomingMessage, bodyKey: unknown) {
    const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1]?.trim();
    return bodyKey === apiKey || bearer === apiKey;
  }

  async function api(req: IncomingMessage, path: string): Promise<Reply> {
    if (path === '/task/openapi/upload') return upload(req);
    const raw = await readBody(req, JSON_LIMIT_BYTES);
    let body: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(raw?.toString('utf8') ?? '');
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      body = parsed as Record<string, unknown>;
    } catch {
      return fail(CODES.PARAMS_INVALID, 'a JSON object body is required');
    }
    if (!authorized(req, body.apiKey ?? body.apikey)) return fail(CODES.APIKEY_UNAUTHORIZED);
    switch (path) {
      case '/task/openapi/create':
        return create(body, 'workflow');
      case '/task/openapi/ai-app/run':
        return create(body, 'webapp');
      case '/task/openapi/outputs':
      case '/task/openapi/status':
      case '/task/openapi/cancel':
        return byTask(path.slice('/task/openapi/'.length), body);
      case '/api/openapi/getJsonApiFormat':
        return apiFormat(body);
      case '/uc/openapi/accountStatus':
        return accountStatus();
      default:
        return fail(CODES.TOKEN_INVALID); // what RunningHub answers for a path it does not know
    }
  }

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const handled =
      req.method === 'POST' && /^\/(task|uc|api)\/openapi\//.test(path)
        ? api(req, path).then((reply) => (reply === DROP ? res.destroy() : sendJson(res, reply)))
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
    workflows: structuredClone(BUNDLED_WORKFLOW_MAP),
    ffmpeg: ffmpeg !== null,
    tasks: () => runner.snapshot(),
    ended: (taskId) => runner.ended(taskId),
    hangNextTask: () => runner.hangNextTask(),
    rejectNextCreate(code, msg) {
      rejection = { code, msg: codeName(code, msg) };
    },
    loseNextCreateAnswer() {
      answersToLose = 1;
    },
    loseCreateAnswers(count) {
      answersToLose = count;
    },
    setForeignTasks(count) {
      foreignTasks = count;
    },
    refusals: () => ({ ...refused }),
    uploadCount: () => uploaded,
    async stop() {
      runner.stop();
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
      if (ownsDir) await rm(root, { recursive: true, force: true });
    },
  };
}
