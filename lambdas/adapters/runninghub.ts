import { ProviderBusy, ProviderFailed, ProviderOutcomeUnknown, ProviderUnavailable } from '../domain/errors';
import type { Provider, ProviderInput, ProviderOutcome, ProviderTaskRequest } from '../domain/ports';
import { isRefusal, isTransient, type RetryClock, type RetryPolicy, realClock, transientError, withRetries } from './retry';
import {
  ALREADY_ENDED_CODES,
  businessError,
  CODES,
  describeFailure,
  type Envelope,
  errorText,
  extension,
  readTaskId,
  UPLOAD_LIMIT_BYTES,
} from './runninghub-protocol';
import { buildNodeInfoList, type WorkflowMap } from './runninghub-workflows';

/**
 * RunningHub's ComfyUI workflow API (`/task/openapi/*`). Every answer is HTTP 200 with a business
 * `code`; this adapter turns it into the Provider port: ProviderBusy (retry later), ProviderFailed
 * (give up), or a plain Error for anything transient (network, timeouts, HTTP 5xx).
 */

export interface RunningHubOptions {
  /** e.g. https://www.runninghub.ai (international) or https://www.runninghub.cn. */
  baseUrl: string;
  apiKey: string;
  workflows: WorkflowMap;
  fetch?: typeof fetch;
  /** Per API call other than create. */
  requestTimeoutMs?: number;
  /** Per create: RunningHub's own ComfyUI plugin (ComfyUI_RH_APICall) waits 30 s for it. */
  createTimeoutMs?: number;
  /** Retries of transient failures, per operation. */
  retry?: Partial<Record<Operation, RetryPolicy>>;
  /** Sleep and randomness of the backoff (tests pass their own). */
  clock?: RetryClock;
  /** Per input: download from S3 plus upload to RunningHub. */
  transferTimeoutMs?: number;
  /** Inputs larger than this are passed to the workflow by URL instead of uploaded. */
  uploadLimitBytes?: number;
}

type Operation = 'create' | 'outputs' | 'cancel' | 'upload';

/**
 * Bounded so a run-on-provider invocation (120 s) ends inside its timeout: create tries 3 × 30 s at most.
 * A create that timed out may have started a task anyway; its webhook carries the job's secret, so the job
 * adopts it or cancels it (lifecycle.onProviderCallback).
 */
const RETRY: Record<Operation, RetryPolicy> = {
  create: { attempts: 3, baseMs: 500, capMs: 4_000 },
  upload: { attempts: 3, baseMs: 500, capMs: 4_000 },
  outputs: { attempts: 4, baseMs: 250, capMs: 2_000 },
  cancel: { attempts: 4, baseMs: 250, capMs: 2_000 },
};

export class RunningHubProvider implements Provider {
  readonly #apiKey: string;
  readonly #baseUrl: string;
  readonly #workflows: WorkflowMap;
  readonly #fetch: typeof fetch;
  readonly #requestTimeoutMs: number;
  readonly #createTimeoutMs: number;
  readonly #transferTimeoutMs: number;
  readonly #uploadLimitBytes: number;
  readonly #retry: Record<Operation, RetryPolicy>;
  readonly #clock: RetryClock;

  constructor(options: RunningHubOptions) {
    this.#apiKey = options.apiKey;
    this.#baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#workflows = options.workflows;
    // Called unbound: some fetch implementations refuse a foreign `this`.
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#requestTimeoutMs = options.requestTimeoutMs ?? 15_000;
    this.#createTimeoutMs = options.createTimeoutMs ?? 30_000;
    this.#retry = { ...RETRY, ...options.retry };
    this.#clock = options.clock ?? realClock;
    this.#transferTimeoutMs = options.transferTimeoutMs ?? 60_000;
    this.#uploadLimitBytes = options.uploadLimitBytes ?? UPLOAD_LIMIT_BYTES;
  }

  async stageInputs(inputs: ProviderInput[]): Promise<Record<string, string>> {
    const staged = await Promise.all(
      inputs.map(async (input) => [input.slot, await withRetries(this.#retry.upload, this.#clock, () => this.#stage(input))] as const),
    );
    return Object.fromEntries(staged);
  }

  async createTask(request: ProviderTaskRequest): Promise<{ taskId: string }> {
    const workflow = this.#workflows[request.tool];
    if (!workflow) throw new ProviderFailed(`No RunningHub workflow is configured for ${request.tool}`);
    const nodeInfoList = buildNodeInfoList(request.tool, workflow, request.params, request.files);
    const target = workflow.kind === 'workflow' ? { workflowId: workflow.id } : { webappId: workflow.id };
    const body = { ...target, nodeInfoList, webhookUrl: request.webhookUrl };
    const path = workflow.kind === 'workflow' ? 'create' : 'ai-app/run';
    // A try that timed out or lost its connection may have created a task: then the job must keep its secret and
    // wait for that task's webhook. Only when every try was refused by the provider itself is nothing running.
    let uncertain = false;
    const reply = await withRetries(this.#retry.create, this.#clock, () =>
      this.#call(path, body, this.#createTimeoutMs).catch((error: unknown) => {
        if (!isRefusal(error)) uncertain = true;
        throw error;
      }),
    ).catch((error: unknown) => {
      if (!isTransient(error)) throw error;
      const message = (error as Error).message;
      throw uncertain ? new ProviderOutcomeUnknown(message) : new ProviderUnavailable(message);
    });
    const taskId = readTaskId(reply);
    if (!taskId) throw new Error('RunningHub create: the answer carries no taskId');
    return { taskId };
  }

  async outputs(taskId: string): Promise<ProviderOutcome> {
    return withRetries(this.#retry.outputs, this.#clock, () => this.#outputs(taskId));
  }

  async #outputs(taskId: string): Promise<ProviderOutcome> {
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
    await withRetries(this.#retry.cancel, this.#clock, async () => {
      const { code, msg } = await this.#send('cancel', { taskId });
      if (code === CODES.OK || ALREADY_ENDED_CODES.has(code)) return;
      throw this.#error('cancel', code, msg);
    });
  }

  /** Gets one input into RunningHub: its fileName after an upload, or its URL when it is too large to upload. */
  async #stage(input: ProviderInput): Promise<string> {
    const signal = AbortSignal.timeout(this.#transferTimeoutMs);
    let response: Response;
    try {
      response = await this.#fetch(input.url, { signal });
    } catch (error) {
      // The presigned URL carries a signature: name the slot, never the URL.
      throw transientError(`Downloading input "${input.slot}" failed: ${errorText(error)}`);
    }
    if (response.status >= 500) throw transientError(`Downloading input "${input.slot}" failed with HTTP ${response.status}`);
    if (!response.ok) throw new ProviderFailed(`Input "${input.slot}" could not be read (HTTP ${response.status})`);
    const declared = Number(response.headers.get('content-length'));
    if (declared > this.#uploadLimitBytes) {
      await response.body?.cancel();
      return input.url;
    }
    const bytes = await response.arrayBuffer().catch((error: unknown) => {
      throw transientError(`Downloading input "${input.slot}" failed: ${errorText(error)}`);
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
  #call(operation: string, body: Record<string, unknown>, timeoutMs: number) {
    return this.#request(
      operation,
      {
        body: JSON.stringify({ apiKey: this.#apiKey, ...body }),
        headers: { 'content-type': 'application/json' },
        signal: AbortSignal.timeout(timeoutMs),
      },
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
    init: { body: NonNullable<RequestInit['body']>; headers?: Record<string, string>; signal?: AbortSignal },
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
      throw transientError(this.#redact(`RunningHub ${operation}: ${errorText(error)}`));
    }
    if (response.status >= 500) throw transientError(`RunningHub ${operation}: HTTP ${response.status}`);
    if (response.status === 429) throw new ProviderBusy(`RunningHub ${operation}: HTTP 429`);
    if (!response.ok) throw new ProviderFailed(`RunningHub ${operation}: HTTP ${response.status}`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw transientError(`RunningHub ${operation}: the answer is not JSON`);
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

/**
 * `/uc/openapi/accountStatus` (body `{apikey}`, lower-case, as RunningHub documents it): `currentTaskCounts`, the
 * tasks the key runs now for every one of its clients.
 */
export async function accountTaskCount(baseUrl: string, apiKey: string, fetchImpl: typeof fetch = fetch): Promise<number> {
  const response = await fetchImpl(`${baseUrl.replace(/\/+$/, '')}/uc/openapi/accountStatus`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ apikey: apiKey }),
    signal: AbortSignal.timeout(15_000),
  });
  if (!response.ok) throw new Error(`RunningHub accountStatus: HTTP ${response.status}`);
  const { code, msg, data } = (await response.json()) as { code?: unknown; msg?: unknown; data?: { currentTaskCounts?: unknown } | null };
  if (code !== CODES.OK) throw new Error(`RunningHub accountStatus: ${String(code)} ${String(msg ?? '')}`.trim());
  const count = Number(data?.currentTaskCounts);
  if (!Number.isSafeInteger(count) || count < 0) throw new Error('RunningHub accountStatus: the answer carries no currentTaskCounts');
  return count;
}
