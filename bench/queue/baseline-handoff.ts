import { now, schedSample, schedShares, sleep } from '../support';
import { startBaseline } from './baseline-stack';
import { CAPACITY, HANDOFF_JOBS, type Scenario, THROUGHPUT_JOBS } from './options';
import { type HandoffResult, perJobFigures } from './results';
import type { SemaphoreJob } from './semaphore-baseline';

/**
 * Polling-semaphore hand-off: executions started all at once (a burst: every waiter polls in step), or spread evenly
 * over one 3 s poll interval; throughput: all at once with no work latency.
 */
export async function baselineHandoff(
  scenario: Extract<Scenario, 'baseline-handoff' | 'baseline-handoff-spread' | 'baseline-throughput'>,
): Promise<HandoffResult> {
  const { semaphore, proxy, history, stop } = await startBaseline(scenario, CAPACITY);
  try {
    const count = scenario === 'baseline-throughput' ? THROUGHPUT_JOBS : HANDOFF_JOBS;
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
      sched,
      failures: done.filter((d) => d.status !== 'SUCCEEDED').map((d) => `${d.status} ${d.error ?? ''}: ${d.cause ?? ''}`),
      ...perJobFigures(
        jobs.map((j) => j.jobId),
        calls,
        histories,
      ),
    };
  } finally {
    await stop();
  }
}
