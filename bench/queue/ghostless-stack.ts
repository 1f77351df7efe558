import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { apiClient } from '../../local/api-client';
import { startLocalStack } from '../../local/local-stack';
import { LocalStepFunctions } from '../../local/stepfunctions/asl-runtime';
import { startCountingProxy } from '../counting-proxy';
import { now, sleep, testPng } from '../support';
import { CAPACITY, LATENCY_MS, MARKERS, type Scenario } from './options';
import { historyStats } from './results';

/** The whole local stack for one Ghostless scenario, behind a counting proxy, warmed up, with what the scenarios drive. */

const CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export type Submitted = { jobId: string; token: string };
type JobItem = Record<string, unknown>;
export type GhostlessStack = Awaited<ReturnType<typeof startGhostless>>;

export const terminal = (i: JobItem) => ['succeeded', 'failed', 'cancelled'].includes(i.status as string);
export const queued = (i: JobItem) => i.status === 'queued' && typeof i.waitToken === 'string';

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
    /** Start (or end) of the job's first run of `handler` (e.g. 'collect-outputs') that started at or after `after`. */
    handler: (jobId: string, handler: string, after = 0) => {
      // The runtime names a task's function as the template does (`JobsCollectOutputsFunction5BBDAC90` or its ARN).
      const fn = `${handler.replace(/(^|-)(\w)/g, (_, __, c: string) => c.toUpperCase())}Function`;
      return runs.filter((r) => r.jobId === jobId && r.file.includes(fn) && r.start >= after).sort((a, b) => a.start - b.start)[0];
    },
  };
}

export async function startGhostless(scenario: Scenario) {
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

  const submit = async (prefix: string): Promise<Submitted> => {
    const user = await api.user(`${prefix}-${++seq}`, 10);
    const jobId = await api.submit(user.token, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: png }], { scale: 2 });
    return { jobId, token: user.token };
  };
  const item = async (jobId: string) =>
    (await doc.send(new GetCommand({ TableName: tableName, Key: { pk: `JOB#${jobId}`, sk: 'JOB' }, ConsistentRead: true }))).Item as
      | JobItem
      | undefined;
  /** Polls the table directly (not through the proxy, so it is not counted) until every job satisfies `done`. */
  const until = async (jobs: Submitted[], done: (job: JobItem) => boolean, timeoutMs = 120_000) => {
    const deadline = now() + timeoutMs;
    for (;;) {
      const items = await Promise.all(jobs.map((j) => item(j.jobId)));
      if (items.every((i) => i && done(i))) return items as JobItem[];
      if (now() > deadline) throw new Error(`jobs did not get there in time: ${JSON.stringify(items.map((i) => i?.status))}`);
      await sleep(25);
    }
  };

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

  const stop = async () => {
    await stack.stop();
    doc.destroy();
    await proxy.stop();
  };
  try {
    // Warm-up: loads every handler and opens every connection, so no cold start lands in the figures.
    const warm = await submit('warm');
    await until([warm], terminal, 60_000);
    await stack.stepFunctions.whenDone(arnOf(warm.jobId));
  } catch (error) {
    await stop();
    throw error;
  }
  return { stack, proxy, trace, submit, until, hangBlockers, cancel, history, stop };
}
