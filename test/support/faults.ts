import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { S3Event } from 'aws-lambda';
import { TOOLS, type ToolId } from '../../lambdas/domain/catalog';
import { clearFirings, disarm, type FaultFiring, firings } from '../../lambdas/domain/faults';
import { isTerminal, type JobRecord } from '../../lambdas/domain/jobs';
import { S3RVER_CREDENTIALS } from '../../local/emulators/s3';
import { type DynamoFaultProxy, startDynamoFaultProxy } from './faults-dynamo-proxy';
import { snapshot } from './invariants';
import { type StartedTestStack, startTestStack } from './local-stack';
import { image } from './media';

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
async function http<T = Record<string, unknown>>(
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

function executionOf(lab: Lab, jobId: string) {
  try {
    return lab.stack.stepFunctions.describeExecution(executionArn(lab, jobId));
  } catch {
    return null;
  }
}

/** Cancels a task on the local provider directly (cleanup of tasks nobody will ever cancel). */
async function cancelProviderTask(lab: Lab, taskId: string) {
  const { url, apiKey } = lab.stack.provider;
  await fetch(`${url}/task/openapi/cancel`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ apiKey, taskId }),
  });
}

const jobIdOfWebhook = (webhookUrl: string | undefined) => /\/api\/provider\/callback\/([^?]+)/.exec(webhookUrl ?? '')?.[1];

// ------------------------------------------------------------------------------------------------ sampler

/**
 * Checks invariants 2 and 3 every `everyMs` while a scenario runs. Each sample is one Query (one
 * partition, one snapshot): the live index holds exactly the non-terminal jobs, the SLOT partition the held slots.
 */
function startSampler(lab: Lab, everyMs = 100) {
  const violations: string[] = [];
  let samples = 0;
  let maxRunning = 0;
  let stopped = false;
  const table = lab.stack.config.tableName;
  const loop = (async () => {
    while (!stopped) {
      try {
        const [live, slots] = await Promise.all([
          lab.stack.doc.send(
            new QueryCommand({
              TableName: table,
              IndexName: 'live',
              KeyConditionExpression: 'livePk = :j',
              ExpressionAttributeValues: { ':j': 'JOB' },
            }),
          ),
          lab.stack.doc.send(
            new QueryCommand({
              TableName: table,
              KeyConditionExpression: 'pk = :s',
              ExpressionAttributeValues: { ':s': 'SLOT' },
              ConsistentRead: true,
            }),
          ),
        ]);
        samples++;
        const jobs = (live.Items ?? []) as JobRecord[];
        const perUser = new Map<string, string[]>();
        for (const job of jobs) perUser.set(job.userId, [...(perUser.get(job.userId) ?? []), job.jobId]);
        for (const [userId, ids] of perUser)
          if (ids.length > 1) violations.push(`sample: ${userId} had ${ids.length} active jobs (${ids.join(', ')})`);
        const running = jobs.filter((j) => j.status === 'running').length;
        const held = slots.Items?.length ?? 0;
        maxRunning = Math.max(maxRunning, running, held);
        if (running > lab.maxRunning) violations.push(`sample: ${running} running jobs > MAX_RUNNING ${lab.maxRunning}`);
        if (held > lab.maxRunning) violations.push(`sample: ${held} slots held > MAX_RUNNING ${lab.maxRunning}`);
      } catch (error) {
        violations.push(`sampler failed: ${(error as Error).message}`);
      }
      await sleep(everyMs);
    }
  })();
  return {
    violations,
    get samples() {
      return samples;
    },
    get maxRunning() {
      return maxRunning;
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}

// ------------------------------------------------------------------------------------------------ invariants

const ms = (iso: string | null | undefined) => (iso ? Date.parse(iso) : Number.NaN);
const queueKey = (job: JobRecord) => `${job.createdAt}#${job.jobId}`;

/**
 * Invariants (docs/PRODUCT.md) 1–8 over the table as it is now, for the given users and jobs (all expected terminal),
 * plus "at every instant" checks reconstructed from the jobs' own timestamps. A job's createdAt/startedAt is taken
 * before the write that makes it active/running, which commits up to `lab.commitLagMs` later (SDK retries); its
 * completedAt is taken before the write that releases it. So a job surely held its lock (or slot) over
 * [createdAt (or startedAt) + lag, completedAt]; two such intervals of one user (or one slot) overlapping means the
 * invariant broke. A shorter overlap proves nothing: the later job's write may have committed after the release
 * (the sampler's consistent reads cover those instants).
 */
export async function checkInvariants(lab: Lab, scope: { userIds: string[]; jobIds: string[]; fifo?: boolean }) {
  const violations: string[] = [];
  const { jobs, users, queue, slots, ledger } = await snapshot({ doc: lab.stack.doc, config: lab.stack.config });
  const byId = new Map(jobs.map((j) => [j.jobId, j]));

  // 1, 7: every job terminal, nothing left holding a slot, a lock or a queue place.
  for (const jobId of scope.jobIds) {
    const job = byId.get(jobId);
    if (!job) violations.push(`inv1: job ${jobId} was never created (its upload finished)`);
    else if (!isTerminal(job.status)) violations.push(`inv1: job ${jobId} is still ${job.status}`);
    else if (!job.completedAt) violations.push(`inv7: job ${jobId} is ${job.status} without completedAt`);
  }
  for (const entry of queue) violations.push(`inv1: queue entry left for ${entry.jobId} (${byId.get(entry.jobId)?.status ?? 'missing'})`);
  for (const slot of slots)
    violations.push(`inv1: slot ${slot.sk} still held by ${slot.jobId} (${byId.get(slot.jobId)?.status ?? 'missing'})`);
  for (const user of users) if (user.activeJobId) violations.push(`inv2: ${user.pk} still locked by ${user.activeJobId}`);

  // 5: credits, per user.
  for (const userId of scope.userIds) {
    const user = users.find((u) => u.pk === `USER#${userId}`);
    if (!user) {
      violations.push(`inv5: no profile for ${userId}`);
      continue;
    }
    const mine = jobs.filter((j) => j.userId === userId);
    const debits = mine.filter((j) => j.charged).reduce((sum, j) => sum + j.creditCost, 0);
    const refunds = mine.filter((j) => j.refunded).reduce((sum, j) => sum + j.creditCost, 0);
    if (user.debited !== debits) violations.push(`inv5: ${userId} debited ${user.debited}, jobs account for ${debits}`);
    if (user.refunded !== refunds) violations.push(`inv5: ${userId} refunded ${user.refunded}, jobs account for ${refunds}`);
    if (user.balance !== user.granted - user.debited + user.refunded)
      violations.push(`inv5: ${userId} balance ${user.balance} ≠ grants − debits + refunds`);
    if (user.balance < 0) violations.push(`inv5: ${userId} balance is negative`);
    // The ledger explains the balance: one entry per change, each written with it (a lost reply or a retried
    // transaction never books a change twice, nor a change without its entry).
    const entries = ledger.filter((e) => e.pk === user.pk);
    const sum = entries.reduce((total, e) => total + e.delta, 0);
    if (sum !== user.balance) violations.push(`inv5: ${userId} balance ${user.balance} ≠ sum of its ledger ${sum}`);
    if (entries.length !== (user.ledgerSeq ?? 0))
      violations.push(`inv5: ${userId} has ${entries.length} ledger entries, seq ${user.ledgerSeq}`);
    for (const job of mine) {
      const booked = (reason: string) => entries.filter((e) => e.jobId === job.jobId && e.reason === reason).length;
      if (booked('debit') !== (job.charged ? 1 : 0)) violations.push(`inv5: ${job.jobId} has ${booked('debit')} debit entries`);
      if (booked('refund') !== (job.refunded ? 1 : 0)) violations.push(`inv5: ${job.jobId} has ${booked('refund')} refund entries`);
    }
    for (const job of mine) {
      if (job.refunded && !job.charged) violations.push(`inv5: ${job.jobId} refunded without a debit`);
      if (!isTerminal(job.status)) continue;
      // Who should have been refunded: every charged failure, a job cancelled while queued; never a success or a running cancel.
      const expected = job.charged && (job.status === 'failed' || (job.status === 'cancelled' && !job.startedAt));
      if (job.refunded !== expected)
        violations.push(`inv5: ${job.jobId} (${job.status}, ${job.error?.code ?? '-'}) refunded=${job.refunded}, expected ${expected}`);
    }
    // 2, at every instant: the admitted jobs of one user never overlap in time.
    const admitted = mine.filter((j) => j.charged).sort((a, b) => ms(a.createdAt) - ms(b.createdAt));
    for (let i = 1; i < admitted.length; i++) {
      const prev = admitted[i - 1] as JobRecord;
      const next = admitted[i] as JobRecord;
      if (!(ms(next.createdAt) + lab.commitLagMs >= ms(prev.completedAt))) {
        violations.push(`inv2: ${userId} had ${prev.jobId} and ${next.jobId} active at once`);
      }
    }
  }

  // 3, at every instant: one job per slot at a time, and never more than MAX_RUNNING running.
  const ran = jobs.filter((j) => j.startedAt);
  const bySlot = new Map<number, JobRecord[]>();
  for (const job of ran) bySlot.set(job.slot ?? -1, [...(bySlot.get(job.slot ?? -1) ?? []), job]);
  for (const [slot, held] of bySlot) {
    if (slot < 1 || slot > lab.maxRunning) violations.push(`inv3: ${held.length} job(s) ran in slot ${slot}`);
    held.sort((a, b) => ms(a.startedAt) - ms(b.startedAt));
    for (let i = 1; i < held.length; i++) {
      const prev = held[i - 1] as JobRecord;
      const next = held[i] as JobRecord;
      const prevEnd = isTerminal(prev.status) ? ms(prev.completedAt) : Number.POSITIVE_INFINITY;
      if (ms(next.startedAt) + lab.commitLagMs < prevEnd)
        violations.push(
          `inv3: slot ${slot} held by ${prev.jobId} (${prev.startedAt} → ${prev.completedAt ?? prev.status}) and ${next.jobId} (${next.startedAt} → ${next.completedAt ?? next.status}) at once`,
        );
    }
  }
  const edges = ran.flatMap((j) => [
    { at: ms(j.startedAt) + lab.commitLagMs, d: 1 },
    { at: isTerminal(j.status) ? ms(j.completedAt) : Number.POSITIVE_INFINITY, d: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.d - b.d);
  let running = 0;
  for (const edge of edges) {
    running += edge.d;
    if (running > lab.maxRunning) {
      violations.push(`inv3: ${running} jobs running at ${new Date(edge.at).toISOString()}`);
      break;
    }
  }

  // 4: FIFO among the scenario's jobs that started: none overtook a job enqueued clearly (> 250 ms) before it.
  if (scope.fifo) {
    const started = scope.jobIds.map((id) => byId.get(id)).filter((j): j is JobRecord => !!j?.startedAt);
    for (const a of started) {
      for (const b of started) {
        if (queueKey(a) < queueKey(b) && ms(b.createdAt) - ms(a.createdAt) > 250 && ms(b.startedAt) < ms(a.startedAt)) {
          violations.push(`inv4: ${b.jobId} started before ${a.jobId}, enqueued ${ms(b.createdAt) - ms(a.createdAt)} ms earlier`);
        }
      }
    }
  }

  // 6: upload first — every job holds every input of its tool, and the objects are in S3.
  for (const jobId of scope.jobIds) {
    const job = byId.get(jobId);
    if (!job) continue;
    const slotsWanted = Object.keys(TOOLS[job.tool].slots).sort();
    const have = job.inputs.map((i) => i.slot).sort();
    if (JSON.stringify(have) !== JSON.stringify(slotsWanted)) violations.push(`inv6: ${jobId} has inputs ${have} for ${slotsWanted}`);
    for (const input of job.inputs) {
      const head = await lab.s3.send(new HeadObjectCommand({ Bucket: lab.stack.bucketName, Key: input.key })).catch(() => null);
      if (!head) violations.push(`inv6: ${jobId}'s input ${input.key} is not in S3`);
    }
  }

  // 8: one job per upload, at most one debit and refund (the credit totals above), no job created twice.
  const ids = jobs.map((j) => j.jobId);
  if (new Set(ids).size !== ids.length) violations.push('inv8: a job id appears twice');
  return { violations, jobs: scope.jobIds.map((id) => byId.get(id)).filter((j): j is JobRecord => !!j) };
}

// ------------------------------------------------------------------------------------------------ scenarios

/** A job that lost its driver (or its wake-up) at `t0`; healed when it is terminal (or started) again. */
interface Victim {
  jobId: string;
  t0: number;
  until?: 'terminal' | 'started';
  why: string;
}

export interface MatrixRow {
  file: string;
  fault: string;
  jobs: number;
  succeeded: number;
  failed: Record<string, number>;
  cancelled: number;
  healed: number;
  healTimesMs: number[];
  boundMs: number;
  zombies: number;
  orphanTasks: number;
  /** Invariants 2/3 sampled every 100 ms while the scenario ran: how many samples, and the most jobs seen running. */
  samples?: number;
  maxRunningSeen?: number;
  invariantsOk: boolean;
  violations: string[];
  notes: string[];
}

export interface Scenario {
  lab: Lab;
  /** Jobs of this scenario: all must be terminal at the end. */
  jobIds: string[];
  userIds: string[];
  victims: Victim[];
  /** jobId → the outcome it must have (`status` or `status:CODE`, alternatives separated by `|`). */
  expect: Record<string, string>;
  notes: string[];
  user(prefix?: string, balance?: number): Promise<TestUser>;
  submit(user: TestUser, options?: Parameters<typeof submit>[2]): Promise<string>;
}

const pct = (values: number[], p: number) => {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
};

/**
 * Runs one fault scenario: `body` arms faults and submits jobs; then every job must end, the invariants
 * hold, every victim heals within SWEEP_INTERVAL_MS + HEAL_GRACE_MS, and each user can run one more job
 * to success. Returns the matrix row (violations listed, never thrown).
 */
export async function runScenario(
  lab: Lab,
  file: string,
  fault: string,
  body: (s: Scenario) => Promise<void>,
  options: {
    fifo?: boolean;
    timeoutMs?: number;
    followUp?: boolean;
    /** Attempts per user for the follow-up job when the provider fails some tasks on purpose (PROVIDER_FAIL_RATE). */
    followUpAttempts?: number;
    /** Processing allowed on top of the bound (default HEAL_SLACK_MS). */
    healSlackMs?: number;
    /** Called once every job of the scenario is terminal, before the follow-ups (e.g. to switch faults off). */
    onSettled?: () => unknown;
  } = {},
): Promise<MatrixRow> {
  clearFirings();
  const startedAt = Date.now();
  const sampler = startSampler(lab);
  const scenario: Scenario = {
    lab,
    jobIds: [],
    userIds: [],
    victims: [],
    expect: {},
    notes: [],
    async user(prefix = 'u', balance = 50) {
      const user = await newUser(lab, prefix, balance);
      scenario.userIds.push(user.userId);
      return user;
    },
    async submit(user, submitOptions) {
      const jobId = await submit(lab, user, submitOptions);
      scenario.jobIds.push(jobId);
      return jobId;
    },
  };
  const violations: string[] = [];
  try {
    await body(scenario);
  } catch (error) {
    violations.push(`scenario failed: ${(error as Error).stack ?? error}`);
  }
  const pending = await waitAllTerminal(lab, scenario.jobIds, options.timeoutMs ?? 30_000);
  disarm();
  await options.onSettled?.();
  for (const jobId of pending) violations.push(`inv1: ${jobId} not terminal after ${(options.timeoutMs ?? 30_000) / 1000} s`);
  const fired = firings();

  // Outcomes, healed jobs and their heal times.
  const jobs = (await Promise.all(scenario.jobIds.map((id) => readJob(lab, id)))).filter((j): j is JobRecord => !!j);
  const failed: Record<string, number> = {};
  for (const job of jobs.filter((j) => j.status === 'failed')) failed[job.error?.code ?? '?'] = (failed[job.error?.code ?? '?'] ?? 0) + 1;
  const heal = new Map<string, { ms: number; why: string }>();
  const victims = new Map(scenario.victims.map((v) => [v.jobId, v]));
  let healed = 0;
  for (const job of jobs) {
    const execution = executionOf(lab, job.jobId);
    // Finalized by the healer: HEALED, or an admitted job whose execution did not end through Finalize (user cancels aside).
    const byHealer =
      job.error?.code === 'HEALED' ||
      (job.charged &&
        isTerminal(job.status) &&
        job.error?.code !== 'CANCELLED_BY_USER' &&
        execution?.status !== 'SUCCEEDED' &&
        execution?.status !== 'RUNNING');
    if (byHealer) healed++;
    const victim = victims.get(job.jobId);
    if (!byHealer && !victim) continue;
    const end = victim?.until === 'started' ? ms(job.startedAt) : ms(job.completedAt);
    heal.set(job.jobId, { ms: end - (victim?.t0 ?? driverLostAt(job, execution, fired, lab)), why: victim?.why ?? 'healed' });
  }
  for (const victim of scenario.victims)
    if (!jobs.some((j) => j.jobId === victim.jobId)) violations.push(`victim ${victim.jobId} has no job`);
  for (const [jobId, { ms: took, why }] of heal) {
    const slack = options.healSlackMs ?? HEAL_SLACK_MS;
    if (!(took <= lab.boundMs + slack)) {
      violations.push(`inv1: ${jobId} (${why}) took ${Math.round(took)} ms to heal, bound ${lab.boundMs} ms (+${slack} ms processing)`);
    }
  }
  // A slot held by a job that never reached the provider: granted, but its execution was never woken. A job
  // with a "creating" marker did reach it (its create was sent; only the task id was lost): not this case.
  for (const job of jobs) {
    if (!job.startedAt || job.providerTaskId || job.creatingAt || !isTerminal(job.status) || victims.has(job.jobId)) continue;
    const held = ms(job.completedAt) - ms(job.startedAt);
    if (held > lab.boundMs + (options.healSlackMs ?? HEAL_SLACK_MS)) {
      violations.push(
        `inv1: ${job.jobId} held slot ${job.slot} for ${held} ms without ever reaching the provider (granted, never woken; ended ${job.status}:${job.error?.code})`,
      );
    }
  }
  for (const [jobId, wanted] of Object.entries(scenario.expect)) {
    const job = jobs.find((j) => j.jobId === jobId);
    const got = job ? `${job.status}${job.error ? `:${job.error.code}` : ''}` : 'missing';
    // `status`, `status:CODE`, or alternatives separated by `|`.
    if (!wanted.split('|').some((w) => w === got || w === job?.status)) violations.push(`expected ${jobId} to end ${wanted}, got ${got}`);
  }

  // Driverless leftovers: executions still running for a finished job, provider tasks nobody will stop.
  const terminal = new Set(jobs.filter((j) => isTerminal(j.status)).map((j) => j.jobId));
  await sleep(Number(lab.env.PROVIDER_LATENCY_MS) + 300);
  const zombies = lab.stack.stepFunctions
    .listExecutions({ statusFilter: 'RUNNING', maxResults: 1000 })
    .executions.filter((e) => terminal.has(e.name));
  const byJob = new Map(jobs.map((j) => [j.jobId, j]));
  const tasks = lab.stack.provider
    .tasks()
    .filter((t) => Date.parse(t.createdAt) >= startedAt && terminal.has(jobIdOfWebhook(t.webhookUrl) ?? ''));
  // Left running for a finished job (nobody will stop it), or run to its end without its job knowing it (billed for nothing).
  const running = tasks.filter((t) => t.status === 'QUEUED' || t.status === 'RUNNING');
  const untracked = tasks.filter(
    (t) => !running.includes(t) && t.status !== 'CANCELLED' && byJob.get(jobIdOfWebhook(t.webhookUrl) ?? '')?.providerTaskId !== t.taskId,
  );
  for (const task of running) await cancelProviderTask(lab, task.taskId); // so they do not hold the provider's slots in later scenarios
  if (zombies.length)
    scenario.notes.push(`${zombies.length} execution(s) still RUNNING for finished jobs (they end at their state's timeout)`);
  if (running.length)
    scenario.notes.push(`${running.length} provider task(s) left running for finished jobs (cancelled by the test afterwards)`);
  if (untracked.length) scenario.notes.push(`${untracked.length} provider task(s) ran to the end without their job recording them`);
  const orphans = [...running, ...untracked];

  // Nobody stays blocked: each user runs one more job to success.
  const followUps: string[] = [];
  if (options.followUp !== false) {
    await Promise.all(
      scenario.userIds.map(async (userId) => {
        const token = (await http<{ token: string }>(lab, 'POST', '/api/local/token', { body: { userId } })).body.token;
        let lastError = '';
        try {
          for (let attempt = 1; ; attempt++) {
            const jobId = await submit(lab, { userId, token });
            followUps.push(jobId);
            const job = await waitJob(lab, jobId, (j) => isTerminal(j.status), 20_000);
            if (job.status === 'succeeded') break;
            lastError = `${job.status} ${job.error?.code ?? ''} (${job.error?.message ?? ''})`;
            const retry = job.error?.code === 'PROVIDER_ERROR' && attempt < (options.followUpAttempts ?? 1);
            if (!retry) {
              violations.push(`follow-up: ${userId}'s next job ended ${lastError}`);
              break;
            }
          }
        } catch (error) {
          violations.push(`follow-up: ${userId} could not run another job: ${(error as Error).message}`);
        }
      }),
    );
  }
  await sampler.stop();
  violations.push(...sampler.violations);
  const checked = await checkInvariants(lab, { userIds: scenario.userIds, jobIds: [...scenario.jobIds, ...followUps], fifo: options.fifo });
  violations.push(...checked.violations);

  const row: MatrixRow = {
    file,
    fault,
    jobs: scenario.jobIds.length,
    succeeded: jobs.filter((j) => j.status === 'succeeded').length,
    failed,
    cancelled: jobs.filter((j) => j.status === 'cancelled').length,
    healed,
    healTimesMs: [...heal.values()].map((h) => Math.round(h.ms)),
    boundMs: lab.boundMs,
    zombies: zombies.length,
    orphanTasks: orphans.length,
    samples: sampler.samples,
    maxRunningSeen: sampler.maxRunning,
    invariantsOk: violations.length === 0,
    violations,
    notes: scenario.notes,
  };
  return row;
}

/** When a healed job (not named as a victim) lost its driver: the fault that hit it, its execution's end, or its creation. */
function driverLostAt(job: JobRecord, execution: ReturnType<typeof executionOf>, fired: FaultFiring[], lab: Lab) {
  const hit = fired.find((f) => f.subject === job.jobId);
  if (hit) return hit.at;
  const stop = execution?.stopDate?.getTime();
  if (stop !== undefined && stop <= ms(job.completedAt)) return stop;
  if (!execution) return ms(job.createdAt);
  // Still RUNNING when healed (its execution was stopped by the healer): the deadline if past it, else when last seen alive.
  if (job.deadline && ms(job.completedAt) > ms(job.deadline) + lab.graceMs) return ms(job.deadline);
  return ms(job.startedAt ?? job.createdAt);
}

// ------------------------------------------------------------------------------------------------ the matrix table

const OUTPUT_DIR = resolve('test-output');
const ROWS_DIR = join(OUTPUT_DIR, 'fault-matrix');

function formatMs(value: number | null) {
  return value === null ? '—' : value >= 10_000 ? `${(value / 1000).toFixed(1)} s` : `${value} ms`;
}

function renderTable(rows: MatrixRow[]) {
  const header =
    '| fault | jobs | succeeded | failed (by code) | cancelled | healed | heal max | heal p95 | bound | zombie exec. | orphan tasks | max running (samples) | invariants |';
  const lines = [header, '|---|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|:-:|'];
  for (const r of rows) {
    const failed = Object.entries(r.failed)
      .map(([code, n]) => `${code} ${n}`)
      .join(', ');
    const max = r.healTimesMs.length ? Math.max(...r.healTimesMs) : null;
    lines.push(
      `| ${r.fault} | ${r.jobs} | ${r.succeeded} | ${failed || '0'} | ${r.cancelled} | ${r.healed} | ${formatMs(max)} | ${formatMs(pct(r.healTimesMs, 95))} | ${formatMs(r.boundMs)} | ${r.zombies} | ${r.orphanTasks} | ${r.samples ? `${r.maxRunningSeen} (${r.samples})` : '—'} | ${r.invariantsOk ? 'OK' : `**${r.violations.length} violation(s)**`} |`,
    );
  }
  const all = rows.flatMap((r) => r.healTimesMs);
  const bound = Math.max(0, ...rows.map((r) => r.boundMs));
  lines.push(
    '',
    `Time-to-heal over all healed jobs: n=${all.length}, max ${formatMs(all.length ? Math.max(...all) : null)}, p95 ${formatMs(pct(all, 95))} (bound SWEEP_INTERVAL_MS + HEAL_GRACE_MS = ${formatMs(bound)}; restart rows: from the moment the restarted stack was ready).`,
  );
  const details = rows.filter((r) => r.violations.length || r.notes.length);
  if (details.length) {
    lines.push('', '### Notes and violations', '');
    for (const r of details) {
      for (const note of r.notes) lines.push(`- ${r.fault}: ${note}`);
      for (const v of r.violations) lines.push(`- **${r.fault}**: ${v.split('\n')[0]}`);
    }
  }
  return lines.join('\n');
}

/**
 * Saves this file's rows and rewrites test-output/fault-matrix.md from every file's rows (each test file
 * runs in its own process, so they meet on disk); prints the table.
 */
export function publishRows(file: string, rows: MatrixRow[]) {
  mkdirSync(ROWS_DIR, { recursive: true });
  writeFileSync(join(ROWS_DIR, `${file}.json`), JSON.stringify({ at: new Date().toISOString(), rows }, null, 2));
  const all = readdirSync(ROWS_DIR)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .flatMap((name) => (JSON.parse(readFileSync(join(ROWS_DIR, name), 'utf8')) as { rows: MatrixRow[] }).rows);
  const markdown = `# Fault matrix\n\nGenerated by \`npm run test:faults\` (${new Date().toISOString()}). One row per fault scenario; "healed" = finalized by the sweeper or the execution-failure handler; heal time = from the moment the job lost its driver (crash, abort, lost event) to terminal (or, for lost wake-ups, to started).\n\n${renderTable(all)}\n`;
  writeFileSync(join(OUTPUT_DIR, 'fault-matrix.md'), markdown);
  console.log(`\nFault matrix (${file}):\n${renderTable(rows)}\n\nFull table: test-output/fault-matrix.md`);
}
