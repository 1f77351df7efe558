/**
 * Queue benchmark: Ghostless's task-token FIFO queue (the real state machine, handlers and local provider) next
 * to a polling semaphore shaped like AWS's DynamoDB-concurrency sample, on the same local Step Functions
 * interpreter and the same DynamoDB Local.
 *
 *   npm run bench:queue
 *   npx tsx bench/queue.ts --jobs=30 --throughput-jobs=60 --group=3 --long=60 --short=10 --latency=200
 *
 * Each scenario runs in a child process (the handlers read their configuration once per process, as in a
 * Lambda cold start); the parent owns the one DynamoDB Local, prints the table and cleans up.
 * Prints figures only; never asserts timings.
 */
import './quiet-env';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { apiClient } from '../local/api-client';
import { startDynamoDbLocal } from '../local/emulators/dynamodb';
import { startLocalStack } from '../local/local-stack';
import { LocalStepFunctions } from '../local/stepfunctions/asl-runtime';
import type { ExecutionEvent } from '../local/stepfunctions/execution-model';
import { type SemaphoreJob, startSemaphore } from './semaphore-baseline';
import {
  type DynamoCall,
  dynamoDbLocalChildren,
  dynamoDbLocalPids,
  fmt,
  intOption,
  isoMs,
  mapLimit,
  now,
  schedSample,
  schedShares,
  sleep,
  startCountingProxy,
  summary,
  table,
  testPng,
  WRITE_OPS,
} from './support';

const CAPACITY = 3;
const HANDOFF_JOBS = intOption('jobs', 'BENCH_QUEUE_JOBS', 30);
const THROUGHPUT_JOBS = intOption('throughput-jobs', 'BENCH_THROUGHPUT_JOBS', 60);
const GROUP = intOption('group', 'BENCH_WAIT_GROUP', 3);
const LONG_WAIT_S = intOption('long', 'BENCH_LONG_WAIT', 60);
const SHORT_WAIT_S = intOption('short', 'BENCH_SHORT_WAIT', 10);
const LATENCY_MS = intOption('latency', 'BENCH_PROVIDER_LATENCY', 200);
const SCENARIO_TIMEOUT_MS = 240_000;
/** `--only=ghostless-handoff,baseline-handoff` runs a subset (the table shows — for the rest). */
const ONLY = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',')
  .filter(Boolean);
const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/** Request-body substrings that identify the Ghostless writes the figures need (see lambdas/adapters/dynamo/). */
const MARKERS = {
  admit: 'balance = balance - :cost',
  intent: '{"S":"INTENT"}',
  grant: 'SET #status = :running',
  finalize: 'REMOVE waitToken, runToken',
  acquire: 'attribute_not_exists(#lockownerid)',
  release: 'REMOVE #lockownerid',
};

type Scenario =
  | 'ghostless-handoff'
  | 'ghostless-throughput'
  | 'ghostless-waits'
  | 'baseline-handoff'
  | 'baseline-handoff-spread'
  | 'baseline-throughput'
  | 'baseline-waits';

interface HandoffResult {
  jobs: number;
  succeeded: number;
  /** Slot released (committed) → next job's task created at the provider, ms. */
  handoff: number[];
  /** Slot released → next job's grant committed (Ghostless only), ms. */
  toGrant?: number[];
  /** Grant committed → task created at the provider (Ghostless only), ms. */
  grantToCreate?: number[];
  /** Ghostless only: named steps of the hand-off and of the turnover, ms each (see printReport). */
  steps?: Record<string, number[]>;
  /** Previous job's provider task ended → next job's task created, ms (webhook, outputs, finalize included). */
  turnover: number[];
  /** Queue released (or executions started) → last job finished, ms. */
  drainMs: number;
  /** Status and error code of every job that did not succeed. */
  failures: string[];
  /** Latency of every DynamoDB call during the scenario, ms (as the code sees DynamoDB Local). */
  dynamoMs: number[];
  /** DynamoDB write calls naming each job, from upload to finish (failed conditional writes included). */
  writesPerJob: number[];
  /** The child's main thread during the measured phase: share of wall time on a CPU, and runnable but waiting for one. */
  sched: { onCpu: number; waiting: number };
  retries: number;
  /** "State: Error" of each retry. */
  retryReasons: string[];
  transitions: number[];
}

interface WaitGroup {
  label: string;
  waitS: number[];
  transitions: number[];
  retries: number[];
  writeCalls: number[];
  writeItems: number[];
  /** Writes after admission (queue, run, finalize); for the baseline, all writes. */
  queueWrites: number[];
  failedWrites: number[];
  reads: number[];
}

interface WaitsResult {
  groups: WaitGroup[];
  idle: { seconds: number; calls: number; writes: number; waiting: number };
}

type Result = HandoffResult | WaitsResult;

/** Transitions (StateEntered) and retries (StateRetried, with the state and error that caused each) of one execution. */
function historyStats(events: ExecutionEvent[]) {
  const reasons: string[] = [];
  let lastError = '';
  for (const event of events) {
    if (event.type === 'StateFailed') lastError = (event as { Error?: string }).Error ?? '';
    if (event.type === 'StateRetried') reasons.push(`${(event as { state?: { name?: string } }).state?.name}: ${lastError}`);
  }
  return { transitions: events.filter((e) => e.type === 'StateEntered').length, retries: reasons.length, reasons };
}

// =================================================================================================================
// Ghostless scenarios (child process).

/**
 * Timestamps from inside the local Step Functions runtime, for the hand-off breakdown: when SendTaskSuccess
 * reaches it (per job) and when each Lambda handler starts and ends. Wraps the runtime's methods in this
 * process only; nothing in local/ is changed.
 */
function traceStepFunctions() {
  const resumed = new Map<string, number[]>();
  const runs: { file: string; jobId: string; start: number; end: number }[] = [];
  const proto = LocalStepFunctions.prototype as unknown as {
    sendTaskSuccess(this: unknown, token: string, output: string): void;
    callHandler(this: unknown, file: string, payload: unknown): Promise<unknown>;
  };
  const sendTaskSuccess = proto.sendTaskSuccess;
  proto.sendTaskSuccess = function (this: unknown, token: string, output: string) {
    const arn = (this as { tasks: Map<string, { executionArn: string }> }).tasks.get(token)?.executionArn ?? '';
    const jobId = arn.slice(arn.lastIndexOf(':') + 1);
    resumed.set(jobId, [...(resumed.get(jobId) ?? []), now()]);
    return sendTaskSuccess.call(this, token, output);
  };
  const callHandler = proto.callHandler;
  proto.callHandler = function (this: unknown, file: string, payload: unknown) {
    const run = { file, jobId: String((payload as { jobId?: unknown })?.jobId ?? ''), start: now(), end: Number.NaN };
    runs.push(run);
    return callHandler.call(this, file, payload).finally(() => {
      run.end = now();
    });
  };
  return {
    /** First SendTaskSuccess for the job at or after `after`. */
    resumedAt: (jobId: string, after: number) => (resumed.get(jobId) ?? []).find((t) => t >= after) ?? Number.NaN,
    /** Start (or end) of the job's last run of `file` that started at or after `after`. */
    handler: (jobId: string, file: string, after = 0) =>
      runs.filter((r) => r.jobId === jobId && r.file === file && r.start >= after).sort((a, b) => a.start - b.start)[0],
  };
}

async function ghostless(scenario: Scenario): Promise<Result> {
  const trace = traceStepFunctions();
  const direct = process.env.BENCH_DYNAMODB_ENDPOINT as string;
  const proxy = await startCountingProxy(direct, MARKERS);
  const tableName = `bench-${scenario}-${randomUUID().slice(0, 8)}`;
  const latency = scenario === 'ghostless-throughput' ? 0 : LATENCY_MS;
  const stack = await startLocalStack({
    port: 0,
    inMemory: true,
    emulators: { dynamodbEndpoint: proxy.endpoint, tableName },
    env: {
      MAX_RUNNING: String(CAPACITY),
      PROVIDER_LATENCY_MS: String(latency),
      // The waiting scenario keeps the deployed sweep schedule (its reads are part of what waiting costs).
      SWEEP_INTERVAL_MS: scenario === 'ghostless-waits' ? '60000' : '3600000',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    },
  });
  const api = apiClient(stack.url);
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: direct, region: 'us-east-1', credentials: CREDENTIALS }));
  const png = await testPng(7);
  const arnOf = (jobId: string) => `${stack.stepFunctions.stateMachineArn.replace(':stateMachine:', ':execution:')}:${jobId}`;
  let seq = 0;

  type Submitted = { jobId: string; token: string };
  const submit = async (prefix: string): Promise<Submitted> => {
    const user = await api.user(`${prefix}-${++seq}`, 10);
    const jobId = await api.submit(user.token, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: png }], { scale: 2 });
    return { jobId, token: user.token };
  };
  const item = async (jobId: string) =>
    (await doc.send(new GetCommand({ TableName: tableName, Key: { pk: `JOB#${jobId}`, sk: 'JOB' }, ConsistentRead: true }))).Item as
      | Record<string, unknown>
      | undefined;
  /** Polls the table directly (not through the proxy, so it is not counted) until every job satisfies `done`. */
  const until = async (jobs: Submitted[], done: (job: Record<string, unknown>) => boolean, timeoutMs = 120_000) => {
    const deadline = now() + timeoutMs;
    for (;;) {
      const items = await Promise.all(jobs.map((j) => item(j.jobId)));
      if (items.every((i) => i && done(i))) return items as Record<string, unknown>[];
      if (now() > deadline) throw new Error(`jobs did not get there in time: ${JSON.stringify(items.map((i) => i?.status))}`);
      await sleep(25);
    }
  };
  const terminal = (i: Record<string, unknown>) => ['succeeded', 'failed', 'cancelled'].includes(i.status as string);
  const queued = (i: Record<string, unknown>) => i.status === 'queued' && typeof i.waitToken === 'string';

  /** Three jobs whose provider tasks never end: they hold every slot until cancelled. */
  async function hangBlockers() {
    const blockers: Submitted[] = [];
    for (let i = 0; i < CAPACITY; i++) {
      const before = stack.provider.tasks().length;
      stack.provider.hangNextTask();
      blockers.push(await submit('blocker'));
      const deadline = now() + 30_000;
      while (stack.provider.tasks().length <= before) {
        if (now() > deadline) throw new Error('blocker task never reached the provider');
        await sleep(10);
      }
    }
    return blockers;
  }
  const cancel = (jobs: Submitted[]) =>
    Promise.all(jobs.map((b) => api.call('POST', `/api/jobs/${b.jobId}/cancel`, { token: b.token }).then((r) => r.status)));

  const history = async (jobId: string) => {
    await stack.stepFunctions.whenDone(arnOf(jobId));
    return historyStats(stack.stepFunctions.history(arnOf(jobId)));
  };

  try {
    // Warm-up: loads every handler and opens every connection, so no cold start lands in the figures.
    const warm = await submit('warm');
    await until([warm], terminal, 60_000);
    await stack.stepFunctions.whenDone(arnOf(warm.jobId));

    if (scenario === 'ghostless-waits') return await waits();

    // Hand-off and throughput: a queue that is full before the first slot frees.
    const count = scenario === 'ghostless-throughput' ? THROUGHPUT_JOBS : HANDOFF_JOBS;
    const blockers = await hangBlockers();
    const jobs = await mapLimit(Array.from({ length: count }), 8, () => submit('user'));
    await until(jobs, queued);
    await sleep(200);
    const sched0 = schedSample();
    const releasedAt = now();
    await cancel(blockers);
    const items = await until(jobs, terminal);
    const sched = schedShares(sched0, schedSample());
    const histories = await Promise.all(jobs.map((j) => history(j.jobId)));
    const calls = await proxy.calls();
    return { ...handoffFigures(jobs, items, calls, releasedAt, histories), sched };
  } finally {
    await stack.stop();
    doc.destroy();
    await proxy.stop();
  }

  function handoffFigures(
    jobs: Submitted[],
    items: Record<string, unknown>[],
    calls: DynamoCall[],
    releasedAt: number,
    histories: ReturnType<typeof historyStats>[],
  ): Omit<HandoffResult, 'sched'> {
    const committed = (mark: string) => {
      const at = new Map<string, number>();
      for (const call of calls) if (call.ok && call.marks.includes(mark)) for (const id of call.ids) at.set(id, call.t1);
      return at;
    };
    const finalizedAt = committed('finalize');
    const grantedAt = committed('grant');
    const tasks = new Map(stack.provider.tasks().map((t) => [t.taskId, t]));
    const rows = jobs.map((job, i) => {
      const record = items[i] as Record<string, unknown>;
      const task = tasks.get(String(record.providerTaskId));
      return {
        jobId: job.jobId,
        slot: Number(record.slot),
        status: String(record.status),
        granted: grantedAt.get(job.jobId) ?? Number.NaN,
        released: finalizedAt.get(job.jobId) ?? Number.NaN,
        created: isoMs(task?.createdAt),
        ended: isoMs(task?.endedAt),
        completed: isoMs(record.completedAt as string),
        error: record.error as { code?: string; message?: string } | null,
      };
    });
    const handoff: number[] = [];
    const toGrant: number[] = [];
    const grantToCreate: number[] = [];
    const turnover: number[] = [];
    const steps: Record<string, number[]> = {};
    const step = (name: string, ms: number) => {
      steps[name] = [...(steps[name] ?? []), ms];
    };
    for (let slot = 1; slot <= CAPACITY; slot++) {
      const holders = rows.filter((r) => r.slot === slot).sort((a, b) => a.granted - b.granted);
      for (let i = 1; i < holders.length; i++) {
        const [a, b] = [holders[i - 1], holders[i]] as [(typeof rows)[number], (typeof rows)[number]];
        handoff.push(b.created - a.released);
        toGrant.push(b.granted - a.released);
        grantToCreate.push(b.created - b.granted);
        turnover.push(b.created - a.ended);
        // The turnover, step by step: A's task ends … A's slot is released … B's task is created.
        const collect = trace.handler(a.jobId, 'collect-outputs', a.ended - 5);
        const finalize = trace.handler(a.jobId, 'finalize', a.ended - 5);
        const resumed = trace.resumedAt(b.jobId, b.granted - 5);
        const run = trace.handler(b.jobId, 'run-on-provider', b.granted - 5);
        step(
          'A: provider task ended → CollectOutputs started (webhook, callback, SendTaskSuccess)',
          (collect?.start ?? Number.NaN) - a.ended,
        );
        step('A: CollectOutputs (outputs copied into S3)', (collect?.end ?? Number.NaN) - (collect?.start ?? Number.NaN));
        step('A: CollectOutputs ended → Finalize started (interpreter)', (finalize?.start ?? Number.NaN) - (collect?.end ?? Number.NaN));
        step('A: Finalize started → slot released (finalize transaction committed)', a.released - (finalize?.start ?? Number.NaN));
        step('slot released → B granted (grant transaction committed)', b.granted - a.released);
        step('B granted → SendTaskSuccess reached the interpreter', resumed - b.granted);
        step('SendTaskSuccess → RunOnProvider handler started (interpreter)', (run?.start ?? Number.NaN) - resumed);
        step('RunOnProvider started → task created (getJob, presign, input staged, create)', b.created - (run?.start ?? Number.NaN));
      }
    }
    return {
      jobs: jobs.length,
      succeeded: rows.filter((r) => r.status === 'succeeded').length,
      handoff,
      toGrant,
      grantToCreate,
      steps,
      turnover,
      drainMs: Math.max(...rows.map((r) => r.completed)) - releasedAt,
      dynamoMs: calls.filter((c) => c.t0 >= releasedAt).map((c) => c.t1 - c.t0),
      writesPerJob: jobs.map((j) => calls.filter((c) => WRITE_OPS.has(c.op) && c.ids.includes(j.jobId)).length),
      failures: rows.filter((r) => r.status !== 'succeeded').map((r) => `${r.status} ${r.error?.code ?? ''}: ${r.error?.message ?? ''}`),
      retries: histories.reduce((sum, h) => sum + h.retries, 0),
      retryReasons: histories.flatMap((h) => h.reasons),
      transitions: histories.map((h) => h.transitions),
    };
  }

  async function waits(): Promise<WaitsResult> {
    // ~0 s: the slots are free when these arrive.
    const zero = await Promise.all(Array.from({ length: GROUP }, () => submit('w0')));
    await until(zero, terminal);
    // Then every slot is held by a task that never ends; two groups queue behind them.
    const blockers = await hangBlockers();
    const t = now();
    const long = await Promise.all(Array.from({ length: GROUP }, () => submit('w60')));
    await until(long, queued);
    void report({ idle: true });
    const idleFrom = now() + 1000;
    await sleep(t + (LONG_WAIT_S - SHORT_WAIT_S) * 1000 - now());
    const idleTo = now();
    const short = await Promise.all(Array.from({ length: GROUP }, () => submit('w10')));
    await until(short, queued);
    await sleep(t + LONG_WAIT_S * 1000 - now());
    await cancel(blockers);
    const all = [...zero, ...long, ...short];
    const items = await until(all, terminal);
    const histories = await Promise.all(all.map((j) => history(j.jobId)));
    const calls = await proxy.calls();
    const idleCalls = calls.filter((c) => c.t0 >= idleFrom && c.t0 < idleTo);
    const group = (label: string, jobs: Submitted[]): WaitGroup => {
      const pick = jobs.map((j) => all.indexOf(j));
      const mine = (jobId: string) => calls.filter((c) => c.ids.includes(jobId));
      const writes = (jobId: string) => mine(jobId).filter((c) => WRITE_OPS.has(c.op));
      return {
        label,
        waitS: pick.map((i) => (isoMs(items[i]?.startedAt as string) - isoMs(items[i]?.createdAt as string)) / 1000),
        transitions: pick.map((i) => histories[i]?.transitions ?? Number.NaN),
        retries: pick.map((i) => histories[i]?.retries ?? Number.NaN),
        writeCalls: jobs.map((j) => writes(j.jobId).length),
        writeItems: jobs.map((j) => writes(j.jobId).reduce((sum, c) => sum + c.items, 0)),
        queueWrites: jobs.map((j) => writes(j.jobId).filter((c) => !c.marks.includes('admit') && !c.marks.includes('intent')).length),
        failedWrites: jobs.map((j) => writes(j.jobId).filter((c) => !c.ok).length),
        reads: jobs.map((j) => mine(j.jobId).filter((c) => !WRITE_OPS.has(c.op)).length),
      };
    };
    return {
      groups: [group('~0 s', zero), group(`~${SHORT_WAIT_S} s`, short), group(`~${LONG_WAIT_S} s`, long)],
      idle: {
        seconds: (idleTo - idleFrom) / 1000,
        calls: idleCalls.length,
        writes: idleCalls.filter((c) => WRITE_OPS.has(c.op)).length,
        waiting: GROUP,
      },
    };
  }
}

// =================================================================================================================
// Polling-semaphore baseline scenarios (child process).

async function baseline(scenario: Scenario): Promise<Result> {
  const direct = process.env.BENCH_DYNAMODB_ENDPOINT as string;
  const proxy = await startCountingProxy(direct, MARKERS);
  const latency = scenario === 'baseline-throughput' ? 0 : LATENCY_MS;
  const semaphore = await startSemaphore({ dynamodbEndpoint: proxy.endpoint, directEndpoint: direct, limit: CAPACITY, workMs: latency });
  const history = async (job: SemaphoreJob) => {
    await semaphore.done(job);
    return historyStats(semaphore.sfn.history(job.executionArn));
  };
  try {
    // Warm-up, as for Ghostless.
    const warm = semaphore.start();
    await semaphore.done(warm);
    await proxy.reset();

    if (scenario === 'baseline-waits') return await waits();

    const count = scenario === 'baseline-throughput' ? THROUGHPUT_JOBS : HANDOFF_JOBS;
    // All at once (a burst: every waiter polls in step), or arrivals spread evenly over one 3 s poll interval.
    const spreadMs = scenario === 'baseline-handoff-spread' ? 3000 : 0;
    const sched0 = schedSample();
    const startedAt = now();
    const jobs: SemaphoreJob[] = [];
    for (let i = 0; i < count; i++) {
      if (spreadMs) await sleep(startedAt + (i * spreadMs) / count - now());
      jobs.push(semaphore.start());
    }
    const done = await Promise.all(jobs.map((j) => semaphore.done(j)));
    const sched = schedShares(sched0, schedSample());
    const histories = await Promise.all(jobs.map(history));
    const calls = await proxy.calls();
    // No slot ids in a counter semaphore: the k-th release frees the slot the (k+3)-th acquisition takes.
    const releases = calls
      .filter((c) => c.ok && c.marks.includes('release'))
      .map((c) => c.t1)
      .sort((a, b) => a - b);
    const starts = jobs.map((j) => j.workStart ?? Number.NaN).sort((a, b) => a - b);
    const ends = jobs.map((j) => j.workEnd ?? Number.NaN).sort((a, b) => a - b);
    const handoff: number[] = [];
    const turnover: number[] = [];
    for (let k = 0; k + CAPACITY < starts.length; k++) {
      handoff.push((starts[k + CAPACITY] as number) - (releases[k] as number));
      turnover.push((starts[k + CAPACITY] as number) - (ends[k] as number));
    }
    return {
      jobs: count,
      succeeded: done.filter((d) => d.status === 'SUCCEEDED').length,
      handoff,
      turnover,
      drainMs: Math.max(...releases) - startedAt,
      dynamoMs: calls.map((c) => c.t1 - c.t0),
      writesPerJob: jobs.map((j) => calls.filter((c) => WRITE_OPS.has(c.op) && c.ids.includes(j.jobId)).length),
      sched,
      failures: done.filter((d) => d.status !== 'SUCCEEDED').map((d) => `${d.status} ${d.error ?? ''}: ${d.cause ?? ''}`),
      retries: histories.reduce((sum, h) => sum + h.retries, 0),
      retryReasons: histories.flatMap((h) => h.reasons),
      transitions: histories.map((h) => h.transitions),
    };
  } finally {
    semaphore.close();
    await proxy.stop();
  }

  async function waits(): Promise<WaitsResult> {
    const zero = Array.from({ length: GROUP }, () => semaphore.start());
    await Promise.all(zero.map((j) => semaphore.done(j)));
    let release = () => {};
    const hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    const blockers = Array.from({ length: CAPACITY }, () => semaphore.start(hold));
    while (blockers.some((b) => b.acquiredAt === undefined)) await sleep(10);
    const t = now();
    const long = Array.from({ length: GROUP }, () => semaphore.start());
    void report({ idle: true });
    const idleFrom = now() + 1000;
    await sleep(t + (LONG_WAIT_S - SHORT_WAIT_S) * 1000 - now());
    const idleTo = now();
    const short = Array.from({ length: GROUP }, () => semaphore.start());
    await sleep(t + LONG_WAIT_S * 1000 - now());
    release();
    const all = [...zero, ...long, ...short];
    await Promise.all([...all, ...blockers].map((j) => semaphore.done(j)));
    const histories = await Promise.all(all.map(history));
    const calls = await proxy.calls();
    const idleCalls = calls.filter((c) => c.t0 >= idleFrom && c.t0 < idleTo);
    const group = (label: string, jobs: SemaphoreJob[]): WaitGroup => {
      const mine = (jobId: string) => calls.filter((c) => c.ids.includes(jobId));
      const writes = (jobId: string) => mine(jobId).filter((c) => WRITE_OPS.has(c.op));
      return {
        label,
        waitS: jobs.map((j) => ((j.acquiredAt ?? Number.NaN) - j.startedAt) / 1000),
        transitions: jobs.map((j) => histories[all.indexOf(j)]?.transitions ?? Number.NaN),
        retries: jobs.map((j) => histories[all.indexOf(j)]?.retries ?? Number.NaN),
        writeCalls: jobs.map((j) => writes(j.jobId).length),
        writeItems: jobs.map((j) => writes(j.jobId).reduce((sum, c) => sum + c.items, 0)),
        queueWrites: jobs.map((j) => writes(j.jobId).length),
        failedWrites: jobs.map((j) => writes(j.jobId).filter((c) => !c.ok).length),
        reads: jobs.map((j) => mine(j.jobId).filter((c) => !WRITE_OPS.has(c.op)).length),
      };
    };
    return {
      groups: [group('~0 s', zero), group(`~${SHORT_WAIT_S} s`, short), group(`~${LONG_WAIT_S} s`, long)],
      idle: {
        seconds: (idleTo - idleFrom) / 1000,
        calls: idleCalls.length,
        writes: idleCalls.filter((c) => WRITE_OPS.has(c.op)).length,
        waiting: GROUP,
      },
    };
  }
}

// =================================================================================================================
// Parent: one DynamoDB Local, the scenarios in child processes, the table.

function runChild(
  scenario: Scenario,
  endpoint: string,
  children: Set<ChildProcess>,
  onIdle?: () => void,
): Promise<{ result?: Result; error?: string; seconds: number }> {
  const started = now();
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [...process.execArgv, fileURLToPath(import.meta.url), `--scenario=${scenario}`, ...process.argv.slice(2)],
      {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        env: { ...process.env, BENCH_DYNAMODB_ENDPOINT: endpoint },
      },
    );
    children.add(child);
    let result: Result | undefined;
    let error: string | undefined;
    const timer = setTimeout(() => {
      error = `timed out after ${SCENARIO_TIMEOUT_MS / 1000} s`;
      child.kill('SIGTERM');
    }, SCENARIO_TIMEOUT_MS);
    child.on('message', (message: { result?: Result; error?: string; idle?: boolean }) => {
      if (message.idle) {
        onIdle?.();
        return;
      }
      result = message.result;
      error = message.error;
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      children.delete(child);
      const seconds = (now() - started) / 1000;
      console.log(`  ${scenario.padEnd(22)} ${error ? `FAILED: ${error}` : 'done'} in ${fmt(seconds, 0)} s`);
      resolve({ result, error: error ?? (code === 0 ? undefined : `exit code ${code}`), seconds });
    });
  });
}

async function parent() {
  const benchStart = now();
  console.log(
    `Queue benchmark: MAX_RUNNING=${CAPACITY}, provider latency ${LATENCY_MS} ms (0 ms for throughput); hand-off ${HANDOFF_JOBS} jobs, ` +
      `throughput ${THROUGHPUT_JOBS} jobs, waits ~0/${SHORT_WAIT_S}/${LONG_WAIT_S} s × ${GROUP} jobs\n`,
  );
  console.log(
    `machine: ${cpus().length} cores, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} at start`,
  );
  const dynamo = await startDynamoDbLocal();
  const jvm = dynamoDbLocalChildren(dynamo.pid);
  const children = new Set<ChildProcess>();
  const stopAll = () => {
    for (const child of children) child.kill('SIGTERM');
  };
  process.once('SIGINT', stopAll);
  const results = new Map<Scenario, { result?: Result; error?: string; seconds: number }>();
  try {
    // The two 60-s waiting scenarios are idle most of the time: run them side by side, then the timed ones alone.
    const wanted = (scenario: Scenario) => !ONLY || ONLY.includes(scenario);
    const run = (scenario: Scenario, onIdle?: () => void) => {
      if (!wanted(scenario)) return Promise.resolve();
      return runChild(scenario, dynamo.endpoint, children, onIdle).then((r) => void results.set(scenario, r));
    };
    // Phase 1: the two waiting scenarios side by side. Once both have their jobs parked behind the blockers (a long,
    // quiet wait), the baseline's timed scenarios run: its figures are ruled by its 3 s poll, not by a few ms of CPU.
    // Phase 2: Ghostless's timed scenarios, each alone on the machine.
    const waiting = (['ghostless-waits', 'baseline-waits'] as const).filter(wanted);
    let idle = 0;
    let startTimedBaseline: () => void = () => {};
    const idleReached = new Promise<void>((resolve) => {
      startTimedBaseline = resolve;
    });
    const onIdle = () => {
      if (++idle === waiting.length) startTimedBaseline();
    };
    if (waiting.length === 0) startTimedBaseline();
    const phase1 = Promise.all(waiting.map((scenario) => run(scenario, onIdle)));
    const baselineTimed = Promise.race([idleReached, phase1]).then(() =>
      Promise.all([run('baseline-handoff'), run('baseline-handoff-spread'), run('baseline-throughput')]),
    );
    await Promise.all([phase1, baselineTimed]);
    await run('ghostless-handoff');
    await run('ghostless-throughput');
  } finally {
    stopAll();
    await dynamo.stop();
  }
  console.log();
  printReport(results);
  const left = dynamoDbLocalPids();
  const ours = [String(dynamo.pid), ...jvm];
  const leftOurs = left.filter((pid) => ours.includes(pid));
  console.log(
    `\nbench took ${fmt((now() - benchStart) / 1000, 0)} s; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} at the end.`,
  );
  console.log(
    leftOurs.length
      ? `WARNING: our DynamoDB Local is still running: ${leftOurs.join(' ')}`
      : `cleanup: stacks stopped, our DynamoDB Local (pids ${ours.join(', ')}) is gone; pgrep -f DynamoDBLocal: ${left.length ? `${left.join(' ')} (not ours)` : 'none'}.`,
  );
  return [...results.values()].some((r) => r.error) ? 1 : 0;
}

function printReport(results: Map<Scenario, { result?: Result; error?: string }>) {
  const get = <T extends Result>(s: Scenario) => results.get(s)?.result as T | undefined;
  const gh = get<HandoffResult>('ghostless-handoff');
  const bh = get<HandoffResult>('baseline-handoff');
  const bs = get<HandoffResult>('baseline-handoff-spread');
  const gt = get<HandoffResult>('ghostless-throughput');
  const bt = get<HandoffResult>('baseline-throughput');
  const gw = get<WaitsResult>('ghostless-waits');
  const bw = get<WaitsResult>('baseline-waits');
  const ratio = (g: number, b: number) => (Number.isFinite(g) && Number.isFinite(b) && g !== 0 ? `${fmt(b / g, 1)}×` : '—');
  const mean = (values: number[] | undefined) => summary(values ?? []).mean;
  const range = (values: number[] | undefined) => {
    const s = summary(values ?? []);
    return s.n === 0 ? '—' : s.min === s.max ? fmt(s.mean, 0) : `${fmt(s.mean, 1)} (${fmt(s.min, 0)}–${fmt(s.max, 0)})`;
  };
  const jobsPerSecond = (r: HandoffResult | undefined) => (r ? r.jobs / (r.drainMs / 1000) : Number.NaN);

  const rows: (string | number)[][] = [['figure', 'Ghostless (task token)', 'polling semaphore', 'baseline / Ghostless']];
  const p = (r: HandoffResult | undefined, pick: (r: HandoffResult) => number[], q: 50 | 99) =>
    r ? summary(pick(r))[q === 50 ? 'p50' : 'p99'] : Number.NaN;
  /** A row comparing two samples by their mean (shown as mean (min–max)). */
  const compare = (label: string, g: number[] | undefined, b: number[] | undefined) =>
    rows.push([label, range(g), range(b), ratio(mean(g), mean(b))]);
  /** A row comparing one percentile of two samples. */
  const pct = (
    label: string,
    g: HandoffResult | undefined,
    b: HandoffResult | undefined,
    pick: (r: HandoffResult) => number[],
    q: 50 | 99,
  ) => rows.push([label, fmt(p(g, pick, q)), fmt(p(b, pick, q)), ratio(p(g, pick, q), p(b, pick, q))]);

  for (const q of [50, 99] as const) pct(`a. hand-off p${q}: slot released → next task created (ms)`, gh, bh, (r) => r.handoff, q);
  for (const q of [50, 99] as const) pct(`a. turnover p${q}: provider task ended → next task created (ms)`, gh, bh, (r) => r.turnover, q);
  for (const q of [50, 99] as const) pct(`a. hand-off p${q}, baseline arrivals spread over 3 s (ms)`, gh, bs, (r) => r.handoff, q);
  compare('a. state transitions per job', gh?.transitions, bh?.transitions);
  compare('a. state transitions per job, baseline spread', gh?.transitions, bs?.transitions);
  compare('a. DynamoDB write calls per job', gh?.writesPerJob, bh?.writesPerJob);
  compare('a. DynamoDB write calls per job, baseline spread', gh?.writesPerJob, bs?.writesPerJob);
  const count = (r: HandoffResult | undefined) => (r ? `${r.succeeded}/${r.jobs} ok, ${r.handoff.length} hand-offs` : '—');
  rows.push(['a. jobs succeeded, hand-offs measured', count(gh), count(bh), '']);
  for (const [i, label] of ['~0 s', `~${SHORT_WAIT_S} s`, `~${LONG_WAIT_S} s`].entries()) {
    const g = gw?.groups[i];
    const b = bw?.groups[i];
    rows.push([`b. waited ${label}: measured wait (s)`, range(g?.waitS), range(b?.waitS), '']);
    compare(`b. waited ${label}: state transitions per job`, g?.transitions, b?.transitions);
    compare(`b. waited ${label}: DynamoDB write calls per job`, g?.writeCalls, b?.writeCalls);
    compare(`b. waited ${label}:   of which queue/run (after admission)`, g?.queueWrites, b?.queueWrites);
    rows.push([`b. waited ${label}:   failed conditional writes among them`, range(g?.failedWrites), range(b?.failedWrites), '']);
    rows.push([`b. waited ${label}:   items written (a transaction counts its items)`, range(g?.writeItems), range(b?.writeItems), '']);
    rows.push([`b. waited ${label}: DynamoDB reads per job (attributable)`, range(g?.reads), range(b?.reads), '']);
  }
  const idle = (w: WaitsResult | undefined) =>
    w ? `${fmt(w.idle.calls / w.idle.seconds, 2)} (${fmt(w.idle.writes / w.idle.seconds, 2)} writes)` : '—';
  rows.push([
    `b. DynamoDB calls/s while ${GROUP} jobs wait (all callers)`,
    idle(gw),
    idle(bw),
    gw && bw ? ratio(gw.idle.calls / gw.idle.seconds, bw.idle.calls / bw.idle.seconds) : '',
  ]);
  const g = jobsPerSecond(gt);
  const b = jobsPerSecond(bt);
  rows.push([`c. throughput, provider latency 0, ${THROUGHPUT_JOBS} jobs (jobs/s)`, fmt(g, 2), fmt(b, 2), ratio(g, b)]);
  pct('c. hand-off p50 at latency 0 (ms)', gt, bt, (r) => r.handoff, 50);
  compare('c. state transitions per job', gt?.transitions, bt?.transitions);
  compare('c. DynamoDB write calls per job', gt?.writesPerJob, bt?.writesPerJob);
  const d = (r: HandoffResult | undefined) => (r ? `${fmt(summary(r.dynamoMs).p50)} / ${fmt(summary(r.dynamoMs).p99)}` : '—');
  rows.push(['DynamoDB Local call latency p50 / p99 during a (ms)', d(gh), d(bh), '']);
  rows.push(['DynamoDB Local call latency p50 / p99 during c (ms)', d(gt), d(bt), '']);
  const c = (r: HandoffResult | undefined) => (r ? `${fmt(r.sched.onCpu * 100, 0)} % / ${fmt(r.sched.waiting * 100, 0)} %` : '—');
  rows.push(['main thread during a: on a CPU / waiting for one (% of wall)', c(gh), c(bh), '']);
  rows.push(['main thread during c: on a CPU / waiting for one (% of wall)', c(gt), c(bt), '']);
  rows.push([
    'step retries, all jobs of a / c',
    gh && gt ? `${gh.retries} / ${gt.retries}` : '—',
    bh && bt ? `${bh.retries} / ${bt.retries}` : '—',
    '',
  ]);
  console.log(table(rows));

  const s = (values: number[]) => {
    const x = summary(values);
    return [fmt(x.p50), fmt(x.p95), fmt(x.p99), fmt(x.max)];
  };
  for (const [name, r] of [
    ['a', gh],
    ['c', gt],
  ] as const) {
    if (!r?.steps) continue;
    console.log();
    const rows: (string | number)[][] = [
      [`Ghostless turnover, step by step (scenario ${name}, ms; A frees the slot B takes)`, 'p50', 'p95', 'p99', 'max'],
    ];
    for (const [step, values] of Object.entries(r.steps)) rows.push([step, ...s(values)]);
    rows.push(["= hand-off: slot released → B's task created", ...s(r.handoff)]);
    rows.push(["= turnover: A's task ended → B's task created", ...s(r.turnover)]);
    console.log(table(rows));
  }
  for (const [scenario, r] of results) {
    if (r.error) console.log(`${scenario}: ${r.error}`);
    for (const failure of (r.result as HandoffResult | undefined)?.failures ?? [])
      console.log(`${scenario}: a job did not succeed: ${failure}`);
    const reasons = new Map<string, number>();
    for (const reason of (r.result as HandoffResult | undefined)?.retryReasons ?? []) reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    for (const [reason, count] of reasons) console.log(`${scenario}: ${count} step retr${count === 1 ? 'y' : 'ies'} on ${reason}`);
  }

  console.log(`
Targets: hand-off p50 < 50 ms and p99 < 250 ms; transitions per job constant whatever the wait. Measured, not asserted.
Legend:
  ratio        baseline ÷ Ghostless for every row (above 1: the baseline takes longer or does more; for throughput,
               below 1 means the baseline is slower).
  hand-off     Ghostless: the Finalize transaction that deletes the job's SLOT item is committed (seen on the DynamoDB wire)
               → the next holder of that same slot has its task created at the local provider (provider's own timestamp).
               Baseline: the k-th "Release Lock" decrement committed → the (k+${CAPACITY})-th "Do Work" started (a counter
               semaphore has no slot ids, so releases and acquisitions are paired in order).
  turnover     the previous task's end at the provider → the next task created: hand-off plus, for Ghostless, the webhook,
               CollectOutputs (copying outputs into S3) and Finalize; for the baseline, the Release Lock task.
  step by step the Ghostless turnover cut at timestamps taken inside the local Step Functions runtime (SendTaskSuccess
               received, each Lambda handler's start and end), on the DynamoDB wire and at the provider.
  a.           ${HANDOFF_JOBS} jobs from distinct users, provider latency ${LATENCY_MS} ms ±10%. Ghostless: 3 blocker jobs hold the slots
               while all ${HANDOFF_JOBS} are admitted, then are cancelled, so every hand-off happens with a full queue. Baseline:
               ${HANDOFF_JOBS} executions started at once (Do Work sleeps ${LATENCY_MS} ms ±10%): a burst, so every waiter then
               polls in step, the poller's worst case; "spread": the same ${HANDOFF_JOBS} started evenly over one 3 s poll
               interval, so the waiters' polls interleave, its best case (hand-off ≈ 3 s ÷ number of waiters).
  b.           per job, for jobs that waited ~0 s (free slots), ~${SHORT_WAIT_S} s and ~${LONG_WAIT_S} s behind 3 blockers (measured wait:
               Ghostless startedAt − createdAt; baseline lock acquired − execution started). Transitions = StateEntered
               events in the execution's history (retries are listed apart; AWS bills both).
  writes       PutItem, UpdateItem, DeleteItem, TransactWriteItems calls whose request names the job (key, value or
               execution ARN), counted by a proxy between the code and DynamoDB Local, failed conditional writes included
               (they consume capacity too); "items" counts each transaction item. Ghostless figures run from the upload
               (intent, input stored, admission transaction) to Finalize; "queue/run" leaves admission out. Ghostless's
               failed writes are grant transactions that lost a race to a concurrent grant (several releases or parks in
               the same instant), not waiting. The baseline has no admission step at all.
  calls/s      every DynamoDB call during the ${LONG_WAIT_S - SHORT_WAIT_S} s when only ${GROUP} jobs wait behind the blockers (Ghostless:
               would include its sweeper's reads, on the deployed 60 s schedule).
  c.           ${THROUGHPUT_JOBS} jobs, provider latency 0 (Ghostless's local provider still really upscales the 16×16 PNG and calls
               back), from a full queue (Ghostless: blockers cancelled; baseline: all started at once) until the last
               job finished.
  main thread  Linux schedstat of the scenario process's main thread: on a CPU vs runnable but waiting for one. A high
               "waiting" share means the machine is oversubscribed and every step above is stretched by it.
  Everything is local: one Node process per scenario (client, API, handlers, s3rver, provider, interpreter) and one
  DynamoDB Local JVM shared by all. The two waiting scenarios run side by side; the baseline's timed scenarios run
  while both are parked in their quiet wait; Ghostless's timed scenarios run alone afterwards.`);
}

// =================================================================================================================

const report = (message: { result?: Result; error?: string; idle?: boolean }) =>
  new Promise<void>((resolve) => {
    if (!process.send) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });

async function child(scenario: Scenario) {
  try {
    const result = scenario.startsWith('ghostless') ? await ghostless(scenario) : await baseline(scenario);
    await report({ result });
  } catch (error) {
    console.error(error);
    await report({ error: (error as Error).message });
  }
}

const scenarioArg = process.argv.find((a) => a.startsWith('--scenario='))?.slice('--scenario='.length) as Scenario | undefined;
(scenarioArg ? child(scenarioArg).then(() => 0) : parent()).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
