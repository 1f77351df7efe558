import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../../lambdas/domain/jobs';
import { assertInvariants } from '../support/invariants';
import { image } from '../support/media';
import { startTestStack } from '../support/started-stack';

// One slot, so every second job waits; provider tasks take 300 ms unless made to hang.
const stack = await startTestStack({ MAX_RUNNING: '1', PROVIDER_LATENCY_MS: '300' });
afterAll(() => stack.stop());
afterEach(() => assertInvariants(stack));

const { api } = stack;
const pngFile = [{ slot: 'image', contentType: 'image/png', body: await image('png', 10, 10) }];
let n = 0;
const newUser = () => api.user(`stage-${++n}-${Date.now()}`, 10);
const is = (status: Job['status']) => (job: Job) => job.status === status;

type Stored = { status: string; providerFiles?: Record<string, string>; stageRequestedAt?: string; providerTaskId?: string };
async function jobRecord(jobId: string) {
  const { Item } = await stack.doc.send(
    new GetCommand({ TableName: stack.config.tableName, Key: { pk: `JOB#${jobId}`, sk: 'JOB' }, ConsistentRead: true }),
  );
  return Item as Stored | undefined;
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 20_000) {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`${what}: not reached in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

describe('the next job in line', () => {
  it('has its inputs at the provider before a slot frees, uploaded once, and the job behind it is staged as the queue moves', async () => {
    const uploadsAtStart = stack.provider.uploadCount();
    // A job whose task never ends holds the only slot.
    const holder = await newUser();
    stack.provider.hangNextTask();
    const held = await api.submit(holder.token, 'upscale-image', pngFile);
    await waitFor(async () => Boolean((await jobRecord(held))?.providerTaskId), 'the holder runs');

    const [next, behind] = [await newUser(), await newUser()];
    const nextJob = await api.submit(next.token, 'upscale-image', pngFile);
    await api.waitForJob(next.token, nextJob, is('queued'));
    const behindJob = await api.submit(behind.token, 'upscale-image', pngFile);
    await api.waitForJob(behind.token, behindJob, is('queued'));

    // The head stages while it waits; the job behind it does not yet.
    await waitFor(async () => Boolean((await jobRecord(nextJob))?.providerFiles), 'the head staged');
    const staged = await jobRecord(nextJob);
    expect(staged?.status).toBe('queued');
    expect(staged?.providerFiles?.image).toMatch(/^api\/[0-9a-f]+\.png$/);
    expect((await api.job(next.token, nextJob)).body.position).toBe(1);
    expect(await jobRecord(behindJob)).not.toHaveProperty('stageRequestedAt');
    expect(stack.provider.uploadCount() - uploadsAtStart).toBe(2);

    // The slot frees: the head runs on what it staged, and the job behind it becomes the head and stages in turn.
    stack.provider.hangNextTask();
    expect((await api.call('POST', `/api/jobs/${held}/cancel`, { token: holder.token })).status).toBe(200);
    await waitFor(async () => Boolean((await jobRecord(nextJob))?.providerTaskId), 'the head runs');
    expect((await jobRecord(nextJob))?.providerFiles).toEqual(staged?.providerFiles);
    await waitFor(async () => Boolean((await jobRecord(behindJob))?.providerFiles), 'the job behind staged');
    expect((await jobRecord(behindJob))?.status).toBe('queued');

    // The rest of the queue runs to the end: one upload per job, none again at its run.
    expect((await api.call('POST', `/api/jobs/${nextJob}/cancel`, { token: next.token })).status).toBe(200);
    const done = await api.waitForJob(behind.token, behindJob, is('succeeded'));
    expect(done.outputs).toHaveLength(1);
    expect(stack.provider.uploadCount() - uploadsAtStart).toBe(3);
  });
});
