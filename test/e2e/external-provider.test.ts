import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { startLocalStack } from '../../local/local-stack';
import { type LocalProvider, startLocalProvider } from '../../local/provider/server';
import { assertInvariants } from '../support/invariants';
import { image } from '../support/media';
import { startTestStack } from '../support/started-stack';

/**
 * RUNNINGHUB_BASE_URL + RUNNINGHUB_API_KEY + RUNNINGHUB_WORKFLOWS point the local stack at any RunningHub-compatible
 * endpoint. Here that endpoint is a separately started instance of the bundled provider with a key of its own,
 * standing in for RunningHub: the stack must not start a provider of its own, and the task's webhook must come
 * back to the stack.
 */
const apiKey = `external-${randomUUID()}`;
const external: LocalProvider = await startLocalProvider({ latencyMs: 100, apiKey });
const stack = await startTestStack({
  RUNNINGHUB_BASE_URL: external.url,
  RUNNINGHUB_API_KEY: apiKey,
  RUNNINGHUB_WORKFLOWS: JSON.stringify(external.workflows),
});
afterAll(async () => {
  await stack.stop();
  await external.stop();
});

describe('a local stack pointed at an external RunningHub endpoint', () => {
  it('runs a job on that endpoint, with the webhook pointing back at the stack, and starts no bundled provider', async () => {
    const user = await stack.api.user(`external-${randomUUID()}`, 5);
    const jobId = await stack.api.submit(user.token, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: await image() }]);
    const job = await stack.api.waitForJob(user.token, jobId);
    expect(job).toMatchObject({ status: 'succeeded', error: null, outputs: [expect.objectContaining({ contentType: 'image/png' })] });

    const tasks = external.tasks().filter((task) => task.webhookUrl?.includes(jobId));
    expect(tasks.map((task) => [task.status, task.webhook.delivered])).toEqual([['SUCCESS', true]]);
    expect(tasks[0]?.webhookUrl?.startsWith(`${stack.url}/api/provider/callback/${jobId}?secret=`)).toBe(true);
    expect(stack.providerEndpoint).toEqual({ url: external.url, bundled: false });
    expect(() => stack.provider).toThrow('no bundled provider runs');
    await assertInvariants(stack);
  });
});

describe('a partial external configuration', () => {
  it('is refused before anything starts, naming what is missing', async () => {
    const started = startLocalStack({ inMemory: true, env: { RUNNINGHUB_BASE_URL: external.url } });
    await expect(started).rejects.toThrow(
      'RUNNINGHUB_BASE_URL is set but RUNNINGHUB_API_KEY and RUNNINGHUB_WORKFLOWS are not: an external RunningHub endpoint needs all three',
    );
  });
});
