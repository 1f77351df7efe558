import { afterAll, describe, expect, it } from 'vitest';
import type { JobRecord } from '../../lambdas/domain/jobs';
import { assertInvariants, snapshot } from '../support/invariants';
import { image } from '../support/media';
import { startTestStack } from '../support/started-stack';

const CAPACITY = 3;
const stack = await startTestStack({ MAX_RUNNING: String(CAPACITY), PROVIDER_LATENCY_MS: '120', PROVIDER_FAIL_RATE: '0.2' });
afterAll(() => stack.stop());

const TERMINAL = ['succeeded', 'failed', 'cancelled'];
const queueKey = (job: Pick<JobRecord, 'createdAt' | 'jobId'>) => `${job.createdAt}#${job.jobId}`;

describe('the queue under many concurrent users', () => {
  it('never runs more than 3, never gives a user two active jobs, starts in FIFO order and ends every job', async () => {
    const users = await Promise.all(Array.from({ length: 20 }, (_, i) => stack.api.user(`crowd-${i}-${Date.now()}`, 10)));
    const png = await image('png', 12, 9);

    // Sample the table continuously while the users work.
    const violations: string[] = [];
    const queuedSnapshots: string[][] = [];
    let sampling = true;
    let samples = 0;
    const sampler = (async () => {
      while (sampling) {
        const { jobs, slots } = await snapshot(stack);
        samples++;
        const running = jobs.filter((j) => j.status === 'running');
        if (running.length > CAPACITY || slots.length > CAPACITY) violations.push(`${running.length} running, ${slots.length} slots`);
        const activeByUser = new Map<string, number>();
        for (const job of jobs.filter((j) => !TERMINAL.includes(j.status)))
          activeByUser.set(job.userId, (activeByUser.get(job.userId) ?? 0) + 1);
        for (const [userId, count] of activeByUser) if (count > 1) violations.push(`${userId} has ${count} active jobs`);
        queuedSnapshots.push(
          jobs
            .filter((j) => j.status === 'queued')
            .sort((a, b) => queueKey(a).localeCompare(queueKey(b)))
            .map((j) => j.jobId),
        );
      }
    })();

    // Each user runs two jobs, one after the other: 40 jobs in all.
    const jobIds = (
      await Promise.all(
        users.map(async (user) => {
          const mine: string[] = [];
          for (let round = 0; round < 2; round++) {
            const jobId = await stack.api.submit(user.token, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: png }], {
              scale: 2,
            });
            await stack.api.waitForJob(user.token, jobId, undefined, 180_000); // correctness, not speed: loaded CI machines are slow
            mine.push(jobId);
          }
          return mine;
        }),
      )
    ).flat();
    sampling = false;
    await sampler;

    expect(violations).toEqual([]);
    expect(samples).toBeGreaterThan(20);
    const { jobs, queue, slots } = await assertInvariants(stack);
    const mine = jobs.filter((j) => jobIds.includes(j.jobId));
    expect(mine).toHaveLength(40);
    expect(mine.every((j) => TERMINAL.includes(j.status))).toBe(true);
    expect(queue).toEqual([]);
    expect(slots).toEqual([]);

    // FIFO: among jobs seen waiting together, none started before one queued ahead of it.
    const startedAt = new Map(mine.map((j) => [j.jobId, j.startedAt]));
    const overtakes = [];
    for (const queued of queuedSnapshots) {
      for (let i = 1; i < queued.length; i++) {
        const ahead = startedAt.get(queued[i - 1] as string);
        const behind = startedAt.get(queued[i] as string);
        if (ahead && behind && behind < ahead) overtakes.push([queued[i - 1], queued[i]]);
      }
    }
    expect(overtakes).toEqual([]);
    expect(
      queuedSnapshots.some((q) => q.length >= 5),
      'the queue really filled up',
    ).toBe(true);

    // Outcomes: real outputs for successes; provider failures refunded with PROVIDER_ERROR.
    const succeeded = mine.filter((j) => j.status === 'succeeded');
    const failed = mine.filter((j) => j.status === 'failed');
    expect(succeeded.length).toBeGreaterThan(0);
    expect(failed.length).toBeGreaterThan(0);
    expect(succeeded.every((j) => j.outputs.length === 1 && !j.refunded)).toBe(true);
    expect(failed.every((j) => j.error?.code === 'PROVIDER_ERROR' && j.refunded)).toBe(true);
  }, 400_000);
});
