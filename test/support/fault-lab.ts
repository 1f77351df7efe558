import { randomUUID } from 'node:crypto';
import { S3Client } from '@aws-sdk/client-s3';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { S3Event } from 'aws-lambda';
import { TOOLS, type ToolId } from '../../lambdas/domain/catalog';
import { disarm } from '../../lambdas/domain/faults';
import { isTerminal, type JobRecord } from '../../lambdas/domain/jobs';
import { S3RVER_CREDENTIALS } from '../../local/emulators/s3';
import { type DynamoFaultProxy, startDynamoFaultProxy } from './faults-dynamo-proxy';
import { image } from './media';
import { type StartedTestStack, startTestStack } from './started-stack';

/**
 * The fault-injection harness: a local stack (optionally behind a misbehaving DynamoDB proxy), users that
 * submit jobs over HTTP and retry what a browser would retry, a sampler that checks invariants 2 and 3
 * while faults fly, and an end-of-scenario audit of invariants 1–8 with zero tolerance. Each scenario
 * becomes one row of the fault matrix (test-output/fault-matrix.md).
 */

const FAULT_ENV = {
  MAX_RUNNING: '3',
  SWEEP_INTERVAL_MS: '500',
  HEAL_GRACE_MS: '1500',
  PROVIDER_LATENCY_MS: '300',
  // A run is the RunOnProvider state from entry: Lambda start, staging the inputs, create, the ~300 ms task and
  // its webhook. On a loaded 2-core machine that path alone was measured at 2.6–3.9 s, so 3 s timed out healthy
  // jobs; hung blockers still end well within each row's wait.
  RUN_TIMEOUT_SECONDS: '8',
  QUEUE_TIMEOUT_SECONDS: '16',
  SFN_RETRY_SCALE: '0.01',
};

/**
 * Processing time allowed on top of SWEEP_INTERVAL_MS + HEAL_GRACE_MS: one sweep's own work (a DescribeExecution
 * and a finalize per straggler, each call crossing the function's sandbox and the IAM gateway) and the 100 ms
 * sampling of "terminal". Measured at 0.3–2.9 s on this 2-core machine with other suites running beside the fault
 * matrix. The bound only has to tell "healed by the sweeper" from "ended by a timeout" (RUN_TIMEOUT_SECONDS 8 s
 * and up), so it allows 3 s; the matrix reports the measured times.
 */
export const HEAL_SLACK_MS = 3000;

export interface Lab {
  stack: StartedTestStack;
  proxy: DynamoFaultProxy | undefined;
  env: Record<string, string>;
  maxRunning: number;
  sweepMs: number;
  graceMs: number;
  boundMs: number;
  /**
   * How long after a job's createdAt/startedAt the write that makes it active/running may commit: the timestamp is
   * taken before the write, and the SDK retries a throttled or failed write with backoff. The "at every instant"
   * checks count only overlaps longer than this (see checkInvariants).
   */
  commitLagMs: number;
  s3: S3Client;
  stop(): Promise<void>;
}

/** Commit lag with healthy DynamoDB: one request, on a loaded 2-core machine. */
const COMMIT_LAG_MS = 1000;
/** The SDK's backoff over its three attempts at a throttled call (base 500 ms, doubling: @smithy/core retry). */
export const SDK_THROTTLE_BACKOFF_MS = 500 + 1000 + 2000;

export async function startLab(env: Record<string, string>, options: { dynamoProxy?: boolean } = {}): Promise<Lab> {
  const realEndpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB;
  if (!realEndpoint) throw new Error('The emulators are not running: run tests through vitest (test/global-setup.ts)');
  const proxy = options.dynamoProxy ? await startDynamoFaultProxy(realEndpoint) : undefined;
  const merged = { ...FAULT_ENV, ...env };
  // Only the handlers talk to DynamoDB through the proxy; the test reads the table directly (stack.doc).
  const stack = await startTestStack({ ...merged, ...(proxy ? { AWS_ENDPOINT_URL_DYNAMODB: proxy.url } : {}) });
  const sweepMs = Number(merged.SWEEP_INTERVAL_MS);
  const graceMs = Number(merged.HEAL_GRACE_MS);
  const s3 = new S3Client({ endpoint: stack.s3Endpoint, region: 'us-east-1', credentials: S3RVER_CREDENTIALS, forcePathStyle: true });
  return {
    stack,
    proxy,
    env: merged,
    maxRunning: Number(merged.MAX_RUNNING),
    sweepMs,
    graceMs,
    boundMs: sweepMs + graceMs,
    commitLagMs: COMMIT_LAG_MS + (proxy ? SDK_THROTTLE_BACKOFF_MS : 0),
    s3,
    async stop() {
      disarm();
      await stack.stop();
      await proxy?.stop();
      s3.destroy();
    },
  };
}

// ------------------------------------------------------------------------------------------------ helpers

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An ISO timestamp in epoch ms (NaN when absent). */
export const ms = (iso: string | null | undefined) => (iso ? Date.parse(iso) : Number.NaN);

/** Polls `probe` until it returns something truthy. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | null | undefined | false>,
  timeoutMs = 15_000,
  everyMs = 20,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Calls the API like a browser would: a 5xx or a network error is retried a few times. */
export async function http<T = Record<string, unknown>>(
  lab: Lab,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; retries?: number } = {},
): Promise<{ status: number; body: T }> {
  const retries = options.retries ?? 12;
  for (let attempt = 0; ; attempt++) {
    try {
      const reply = await lab.stack.api.call<T>(method, path, options);
      if (reply.status < 500 || attempt >= retries) return reply;
    } catch (error) {
      if (attempt >= retries) throw error;
    }
    await sleep(50 * (attempt + 1));
  }
}

export interface TestUser {
  userId: string;
  token: string;
}

export async function newUser(lab: Lab, prefix: string, balance = 50): Promise<TestUser> {
  const userId = `${prefix}-${randomUUID().slice(0, 8)}`;
  const token = (await http<{ token: string }>(lab, 'POST', '/api/local/token', { body: { userId } })).body.token;
  const set = await http(lab, 'POST', '/api/local/credits', { body: { userId, balance } });
  if (set.status !== 200) throw new Error(`could not set credits: ${set.status} ${JSON.stringify(set.body)}`);
  return { userId, token };
}

let sequence = 0;
/**
 * One distinct PNG per input: identical bytes would make the local provider store every upload under the same
 * content-addressed name and rewrite it while another task reads it (an "Input Buffer is empty" failure).
 */
async function filesFor(tool: ToolId) {
  return Promise.all(
    Object.keys(TOOLS[tool].slots).map(async (slot) => {
      const n = ++sequence;
      return { slot, contentType: 'image/png', body: await image('png', 8 + (n % 97), 6 + (Math.floor(n / 97) % 89)) };
    }),
  );
}

export interface Presigned {
  jobId: string;
  uploads: { slot: string; url: string; fields: Record<string, string> }[];
  files: Awaited<ReturnType<typeof filesFor>>;
}

export async function presign(lab: Lab, user: TestUser, tool: ToolId = 'upscale-image'): Promise<Presigned> {
  const files = await filesFor(tool);
  const reply = await http<Presigned>(lab, 'POST', '/api/uploads', {
    token: user.token,
    body: { tool, files: files.map((f) => ({ slot: f.slot, contentType: f.contentType, size: f.body.length })) },
  });
  if (reply.status !== 201) throw new Error(`presign failed: ${reply.status} ${JSON.stringify(reply.body)}`);
  return { ...reply.body, files };
}

/** One browser-style multipart POST of one slot's file (retried on 5xx). */
export async function uploadSlot(presigned: Presigned, slot: string) {
  const upload = presigned.uploads.find((u) => u.slot === slot);
  const file = presigned.files.find((f) => f.slot === slot);
  if (!upload || !file) throw new Error(`no upload for ${slot}`);
  for (let attempt = 0; ; attempt++) {
    const form = new FormData();
    for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
    form.append('file', new Blob([file.body], { type: file.contentType }));
    const response = await fetch(upload.url, { method: 'POST', body: form });
    await response.arrayBuffer();
    if (response.ok) return;
    if (response.status < 500 || attempt >= 5) throw new Error(`upload failed: ${response.status}`);
    await sleep(100);
  }
}

/** Presign, let the test arm faults for the job id, then upload every input (the S3 events create the job). */
export async function submit(lab: Lab, user: TestUser, options: { tool?: ToolId; beforeUpload?: (jobId: string) => unknown } = {}) {
  const presigned = await presign(lab, user, options.tool);
  await options.beforeUpload?.(presigned.jobId);
  for (const upload of presigned.uploads) await uploadSlot(presigned, upload.slot);
  return presigned.jobId;
}

/** Delivers one S3 ObjectCreated event to the deployed s3-event function, as a duplicate or reordered delivery would. */
export async function deliverS3Event(lab: Lab, key: string) {
  const event = {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        eventName: 'ObjectCreated:Post',
        s3: { bucket: { name: lab.stack.bucketName }, object: { key } },
      },
    ],
  } as unknown as S3Event;
  await lab.stack.lambda.invoke(lab.stack.functionName('s3-event'), event);
}

export async function readJob(lab: Lab, jobId: string) {
  const { Item } = await lab.stack.doc.send(
    new GetCommand({ TableName: lab.stack.config.tableName, Key: { pk: `JOB#${jobId}`, sk: 'JOB' }, ConsistentRead: true }),
  );
  return (Item as JobRecord | undefined) ?? null;
}

/** Waits until the job exists and `done` holds (default: terminal). */
export function waitJob(lab: Lab, jobId: string, done: (job: JobRecord) => boolean = (j) => isTerminal(j.status), timeoutMs = 20_000) {
  return until(
    `job ${jobId}`,
    async () => {
      const job = await readJob(lab, jobId);
      return job && done(job) ? job : null;
    },
    timeoutMs,
  );
}

/** Waits for every job to be terminal; returns those that never got there (or never existed). */
export async function waitAllTerminal(lab: Lab, jobIds: string[], timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let pending = [...jobIds];
  while (pending.length && Date.now() < deadline) {
    const jobs = await Promise.all(pending.map((id) => readJob(lab, id)));
    pending = pending.filter((_, i) => !(jobs[i] && isTerminal((jobs[i] as JobRecord).status)));
    if (pending.length) await sleep(100);
  }
  return pending;
}

export const executionArn = (lab: Lab, jobId: string) =>
  `${lab.stack.stepFunctions.stateMachineArn.replace(':stateMachine:', ':execution:')}:${jobId}`;

export function executionOf(lab: Lab, jobId: string) {
  try {
    return lab.stack.stepFunctions.describeExecution(executionArn(lab, jobId));
  } catch {
    return null;
  }
}

/** Cancels a task on the local provider directly (cleanup of tasks nobody will ever cancel). */
export async function cancelProviderTask(lab: Lab, taskId: string) {
  const { url, apiKey } = lab.stack.provider;
  await fetch(`${url}/task/openapi/cancel`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ apiKey, taskId }),
  });
}

export const jobIdOfWebhook = (webhookUrl: string | undefined) => /\/api\/provider\/callback\/([^?]+)/.exec(webhookUrl ?? '')?.[1];
