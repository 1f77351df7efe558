import { afterAll, describe, expect, it } from 'vitest';
import { assertInvariants } from '../support/invariants';
import { image } from '../support/media';
import { startTestStack } from '../support/started-stack';

// A provider that finishes at once calls back before the run token is even recorded.
const stack = await startTestStack({ PROVIDER_LATENCY_MS: '0', RUN_TIMEOUT_SECONDS: '30' });
afterAll(() => stack.stop());

describe('an instant provider', () => {
  it('never loses a callback that arrives before the execution is ready for it', async () => {
    const png = await image();
    const users = await Promise.all(Array.from({ length: 8 }, (_, i) => stack.api.user(`instant-${i}-${Date.now()}`, 3)));
    const jobs = await Promise.all(
      users.map((u) => stack.api.submit(u.token, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: png }])),
    );
    const done = await Promise.all(jobs.map((jobId, i) => stack.api.waitForJob(users[i]?.token as string, jobId, undefined, 90_000)));
    // Generous limits: this checks correctness, not speed. On a loaded machine (load 13) runs took over 5 s.
    // A lost callback would leave the execution waiting until the run limit: PROVIDER_TIMEOUT.
    expect(done.map((j) => [j.status, j.error?.message])).toEqual(Array(8).fill(['succeeded', undefined]));
    await assertInvariants(stack);
  }, 120_000);
});
