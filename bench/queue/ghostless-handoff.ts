import type { DynamoCall } from '../counting-proxy';
import { isoMs, mapLimit, now, schedSample, schedShares, sleep } from '../support';
import { type GhostlessStack, queued, type Submitted, startGhostless, terminal } from './ghostless-stack';
import { CAPACITY, HANDOFF_JOBS, type Scenario, THROUGHPUT_JOBS } from './options';
import { type HandoffResult, type HistoryStats, perJobFigures } from './results';

/**
 * Ghostless hand-off (provider latency as set) and throughput (latency 0): a queue that is full before the first
 * slot frees, then every slot hand-off timed on the DynamoDB wire, at the provider and inside the interpreter.
 */
export async function ghostlessHandoff(scenario: Extract<Scenario, 'ghostless-handoff' | 'ghostless-throughput'>): Promise<HandoffResult> {
  const ghostless = await startGhostless(scenario);
  const { submit, until, hangBlockers, cancel, history, proxy } = ghostless;
  try {
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
    return { ...handoffFigures(ghostless, jobs, items, calls, releasedAt, histories), sched };
  } finally {
    await ghostless.stop();
  }
}

function handoffFigures(
  { stack, trace }: GhostlessStack,
  jobs: Submitted[],
  items: Record<string, unknown>[],
  calls: DynamoCall[],
  releasedAt: number,
  histories: HistoryStats[],
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
      step('RunOnProvider started → task created (getJob, inputs unless staged ahead, create)', b.created - (run?.start ?? Number.NaN));
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
    failures: rows.filter((r) => r.status !== 'succeeded').map((r) => `${r.status} ${r.error?.code ?? ''}: ${r.error?.message ?? ''}`),
    ...perJobFigures(
      jobs.map((j) => j.jobId),
      calls,
      histories,
    ),
  };
}
