import { afterAll, describe, expect, it } from 'vitest';
import type { Job } from '../../lambdas/domain/jobs';
import { assertInvariants } from '../support/invariants';
import { image } from '../support/media';
import { startTestStack } from '../support/started-stack';

// One slot, an 8 s run limit and a 2 s queue limit, so both timeouts happen within one test. The run limit is well
// above the queue limit so that, however slowly a loaded machine admits the second job, it times out in the queue
// before the first job's limit frees the slot (with 3 s, a second job admitted 1 s late was granted instead).
const stack = await startTestStack({ MAX_RUNNING: '1', RUN_TIMEOUT_SECONDS: '8', QUEUE_TIMEOUT_SECONDS: '2', PROVIDER_LATENCY_MS: '200' });
afterAll(() => stack.stop());
const { api } = stack;

describe('timeouts', () => {
  it('fails a hanging provider task with PROVIDER_TIMEOUT and a job stuck behind it with QUEUE_TIMEOUT, both refunded', async () => {
    const png = await image();
    const files = [{ slot: 'image', contentType: 'image/png', body: png }];
    const slow = await api.user(`slow-${Date.now()}`, 5);
    const behind = await api.user(`behind-${Date.now()}`, 5);
    stack.provider.hangNextTask();
    const slowJob = await api.submit(slow.token, 'upscale-image', files);
    await api.waitForJob(slow.token, slowJob, (j: Job) => j.status === 'running');
    const behindJob = await api.submit(behind.token, 'upscale-image', files);

    expect(await api.waitForJob(behind.token, behindJob)).toMatchObject({
      status: 'failed',
      refunded: true,
      startedAt: null,
      error: { code: 'QUEUE_TIMEOUT' },
    });
    expect(await api.waitForJob(slow.token, slowJob)).toMatchObject({
      status: 'failed',
      refunded: true,
      error: { code: 'PROVIDER_TIMEOUT' },
    });
    // The hung task is cancelled (right after the job is finalized) so it stops costing money.
    await expect.poll(() => stack.provider.tasks().map((t) => t.status)).toEqual(['CANCELLED']);
    for (const user of [slow, behind]) expect((await api.call('GET', '/api/credits', { token: user.token })).body).toEqual({ balance: 5 });
    await assertInvariants(stack);

    // Both users are free again, and the slot works.
    const again = await api.submit(slow.token, 'upscale-image', files);
    expect(await api.waitForJob(slow.token, again)).toMatchObject({ status: 'succeeded' });
  }, 30_000);
});
