import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { assertInvariants } from '../support/invariants';
import { image } from '../support/media';
import { startTestStack } from '../support/started-stack';

/**
 * A job the provider keeps refusing for capacity (421: the key's other clients hold every task) goes back to the
 * head of the queue each time, and only its queue timeout can end it: counted from its admission, not afresh at
 * each return to the queue (where, granted again within seconds each time, it would never time out).
 */
const QUEUE_TIMEOUT_SECONDS = 12;
const stack = await startTestStack({ QUEUE_TIMEOUT_SECONDS: String(QUEUE_TIMEOUT_SECONDS), PROVIDER_LATENCY_MS: '100' });
afterAll(() => stack.stop());

describe('a job the provider keeps refusing because the key is full', () => {
  it('ends QUEUE_TIMEOUT, refunded, after being requeued with less of its queue timeout left each time', async () => {
    stack.provider.setForeignTasks(3);
    const user = await stack.api.user(`requeued-${randomUUID()}`, 5);
    const jobId = await stack.api.submit(user.token, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: await image() }]);
    const job = await stack.api.waitForJob(user.token, jobId, undefined, 60_000);
    stack.provider.setForeignTasks(0);
    expect(job).toMatchObject({ status: 'failed', refunded: true, error: { code: 'QUEUE_TIMEOUT' } });
    expect(stack.provider.refusals()[421]).toBeGreaterThanOrEqual(2);
    expect(stack.provider.tasks()).toEqual([]);

    // Each WaitForSlot after a refusal waited on what was left, never on a fresh QUEUE_TIMEOUT_SECONDS.
    const arn = `${stack.stepFunctions.stateMachineArn.replace(':stateMachine:', ':execution:')}:${jobId}`;
    const waits = stack.stepFunctions
      .history(arn)
      .filter((event) => event.type === 'StateEntered' && (event as { state?: { name?: string } }).state?.name === 'WaitForSlot')
      .map((event) => (event as unknown as { state: { input: { queueTimeoutSeconds: number } } }).state.input.queueTimeoutSeconds);
    expect(waits.length).toBeGreaterThanOrEqual(2);
    expect(waits[0]).toBe(QUEUE_TIMEOUT_SECONDS);
    for (let i = 1; i < waits.length; i++) expect(waits[i]).toBeLessThan(waits[i - 1] as number);
    expect((await stack.api.call('GET', '/api/credits', { token: user.token })).body).toEqual({ balance: 5 });
    await assertInvariants(stack);
  }, 90_000);
});

describe('a job refused once because the key is full', () => {
  it('uploads its input to the provider once, and reuses the fileName when granted again', async () => {
    const [uploadsBefore, refusedBefore] = [stack.provider.uploadCount(), stack.provider.refusals()[421] ?? 0];
    stack.provider.rejectNextCreate(421, 'TASK_QUEUE_MAXED');
    const user = await stack.api.user(`upload-once-${randomUUID()}`, 5);
    const jobId = await stack.api.submit(user.token, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: await image() }]);
    expect(await stack.api.waitForJob(user.token, jobId, undefined, 60_000)).toMatchObject({ status: 'succeeded', refunded: false });
    expect((stack.provider.refusals()[421] ?? 0) - refusedBefore).toBe(1);
    expect(stack.provider.uploadCount() - uploadsBefore).toBe(1);
    await assertInvariants(stack);
  }, 90_000);
});
