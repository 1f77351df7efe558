import { isoMs, now, sleep } from '../support';
import { queued, type Submitted, startGhostless, terminal } from './ghostless-stack';
import { GROUP, LONG_WAIT_S, SHORT_WAIT_S } from './options';
import { tellParent, type WaitsResult, waitFigures } from './results';

/**
 * Ghostless waiting: jobs that wait ~0 s (free slots), then ~long and ~short seconds behind blockers that hold every
 * slot. What waiting costs: transitions, writes and reads per job, and every DynamoDB call while only jobs wait.
 */
export async function ghostlessWaits(): Promise<WaitsResult> {
  const ghostless = await startGhostless('ghostless-waits');
  const { submit, until, hangBlockers, cancel, history, proxy } = ghostless;
  try {
    // ~0 s: the slots are free when these arrive.
    const zero = await Promise.all(Array.from({ length: GROUP }, () => submit('w0')));
    await until(zero, terminal);
    // Then every slot is held by a task that never ends; two groups queue behind them.
    const blockers = await hangBlockers();
    const t = now();
    const long = await Promise.all(Array.from({ length: GROUP }, () => submit('w60')));
    await until(long, queued);
    void tellParent({ idle: true });
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
    const waited = (jobs: Submitted[]) =>
      jobs.map((j) => {
        const i = all.indexOf(j);
        // Ghostless's measured wait: the job record's startedAt − createdAt.
        const waitS = (isoMs(items[i]?.startedAt as string) - isoMs(items[i]?.createdAt as string)) / 1000;
        return { jobId: j.jobId, waitS, history: histories[i] };
      });
    return waitFigures(calls, { zero: waited(zero), short: waited(short), long: waited(long) }, { from: idleFrom, to: idleTo });
  } finally {
    await ghostless.stop();
  }
}
