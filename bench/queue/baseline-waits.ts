import { now, sleep } from '../support';
import { startBaseline } from './baseline-stack';
import { CAPACITY, GROUP, LONG_WAIT_S, SHORT_WAIT_S } from './options';
import { tellParent, type WaitsResult, waitFigures } from './results';
import type { SemaphoreJob } from './semaphore-baseline';

/** Polling-semaphore waiting: the same groups as Ghostless's, behind executions that hold the lock until released. */
export async function baselineWaits(): Promise<WaitsResult> {
  const { semaphore, proxy, history, stop } = await startBaseline('baseline-waits', CAPACITY);
  try {
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
    void tellParent({ idle: true });
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
    // The baseline's measured wait: lock acquired − execution started.
    const waited = (jobs: SemaphoreJob[]) =>
      jobs.map((j) => ({ jobId: j.jobId, waitS: ((j.acquiredAt ?? Number.NaN) - j.startedAt) / 1000, history: histories[all.indexOf(j)] }));
    return waitFigures(calls, { zero: waited(zero), short: waited(short), long: waited(long) }, { from: idleFrom, to: idleTo });
  } finally {
    await stop();
  }
}
