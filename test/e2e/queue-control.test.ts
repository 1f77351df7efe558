import { SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../../lambdas/domain/jobs';
import { assertInvariants } from '../support/invariants';
import { image } from '../support/media';
import { startTestStack } from '../support/started-stack';

// Two slots; provider tasks take 300 ms unless made to hang. Retry waits scaled down (ProviderBusy backoff).
const stack = await startTestStack({ MAX_RUNNING: '2', PROVIDER_LATENCY_MS: '300', SFN_RETRY_SCALE: '0.01' });
afterAll(() => stack.stop());
afterEach(() => assertInvariants(stack));

const { api } = stack;
const png = await image('png', 10, 10);
const pngFile = [{ slot: 'image', contentType: 'image/png', body: png }];
let n = 0;
const newUser = (balance = 10) => api.user(`ctl-${++n}-${Date.now()}`, balance);
const is = (status: Job['status']) => (job: Job) => job.status === status;

async function submit(token: string) {
  return api.submit(token, 'upscale-image', pngFile);
}

/** A job whose provider task never ends: it holds a slot until cancelled. */
async function blocker() {
  const user = await newUser();
  stack.provider.hangNextTask();
  const jobId = await submit(user.token);
  await api.waitForJob(user.token, jobId, is('running'));
  // Running means the slot is held; wait until the (hanging) provider task exists too.
  await waitUntil(async () => Boolean((await jobRecord(jobId))?.providerTaskId));
  return { ...user, jobId };
}

async function jobRecord(jobId: string) {
  const { Item } = await stack.doc.send(
    new GetCommand({ TableName: stack.config.tableName, Key: { pk: `JOB#${jobId}`, sk: 'JOB' }, ConsistentRead: true }),
  );
  return Item as { providerTaskId?: string; waitToken?: string; status: string } | undefined;
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 15_000) {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const cancel = (token: string, jobId: string) => api.call<Job>('POST', `/api/jobs/${jobId}/cancel`, { token });
const credits = async (token: string) => (await api.call<{ balance: number }>('GET', '/api/credits', { token })).body.balance;

describe('positions, cancel and release', () => {
  it('shows exact positions that count down as jobs ahead leave', async () => {
    const [first, second] = [await blocker(), await blocker()];
    type Waiting = { userId: string; token: string; jobId: string };
    const waiting: Waiting[] = [];
    for (let i = 0; i < 4; i++) {
      const user = await newUser();
      const jobId = await submit(user.token);
      await api.waitForJob(user.token, jobId, is('queued'));
      waiting.push({ ...user, jobId });
    }
    const positions = async () => Promise.all(waiting.map(async (w) => (await api.job(w.token, w.jobId)).body.position));
    expect(await positions()).toEqual([1, 2, 3, 4]);
    expect((await api.call('GET', '/api/queue', { token: first.token })).body).toEqual({ capacity: 2, running: 2, queued: 4 });

    // A queued job cancelled: refunded, and everyone behind it moves up.
    const [a, b, c, d] = waiting as [Waiting, Waiting, Waiting, Waiting];
    const cancelled = await cancel(b.token, b.jobId);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', refunded: true, error: { code: 'CANCELLED_BY_USER' }, position: null });
    expect(await credits(b.token)).toBe(10);
    expect((await positions()).filter((p) => p !== null)).toEqual([1, 2, 3]);

    // A running job cancelled: its provider task is stopped, no refund, and its slot goes to the head of the queue.
    const taskId = (await jobRecord(first.jobId))?.providerTaskId as string;
    const stopped = await cancel(first.token, first.jobId);
    expect(stopped.body).toMatchObject({ status: 'cancelled', refunded: false });
    expect(await credits(first.token)).toBe(9);
    expect(stack.provider.tasks().find((t) => t.taskId === taskId)?.status).toBe('CANCELLED');
    await api.waitForJob(a.token, a.jobId, (j) => j.status !== 'queued');
    expect((await api.job(c.token, c.jobId)).body.position).toBe(1);
    expect((await api.job(d.token, d.jobId)).body.position).toBe(2);

    // Drain: the rest run in order to real results.
    await cancel(second.token, second.jobId);
    for (const w of [a, c, d])
      expect(await api.waitForJob(w.token, w.jobId)).toMatchObject({ status: 'succeeded', outputs: [expect.any(Object)] });
    const done = await Promise.all([a, c, d].map(async (w) => (await api.job(w.token, w.jobId)).body.startedAt as string));
    expect([...done].sort()).toEqual(done);
  });

  it('answers 409 JOB_FINISHED for a finished job and 404 for someone else’s', async () => {
    const user = await newUser();
    const jobId = await submit(user.token);
    await api.waitForJob(user.token, jobId);
    expect(await cancel(user.token, jobId)).toMatchObject({ status: 409, body: { error: 'JOB_FINISHED', message: expect.any(String) } });
    const other = await newUser();
    expect(await cancel(other.token, jobId)).toMatchObject({ status: 404, body: { error: 'NOT_FOUND' } });
    expect(await credits(user.token)).toBe(9);
  });

  it('releases the caller’s queued job with a refund, and nothing else', async () => {
    const blockers = [await blocker(), await blocker()];
    const user = await newUser();
    const jobId = await submit(user.token);
    await api.waitForJob(user.token, jobId, is('queued'));
    expect((await api.call('POST', '/api/queue/release', { token: blockers[0]?.token })).body).toEqual({ cancelled: [] });
    expect((await api.call('POST', '/api/queue/release', { token: user.token })).body).toEqual({ cancelled: [jobId] });
    expect(await api.job(user.token, jobId)).toMatchObject({ body: { status: 'cancelled', refunded: true } });
    expect(await credits(user.token)).toBe(10);
    expect((await api.call('GET', '/api/jobs/active', { token: user.token })).body).toEqual({ job: null });
    for (const b of blockers) await cancel(b.token, b.jobId);
  });
});

describe('the provider', () => {
  it('fails a job the provider refuses with PROVIDER_ERROR, refunds it and frees the user', async () => {
    const user = await newUser(5);
    stack.provider.rejectNextCreate(301, 'PARAMS_INVALID');
    const jobId = await submit(user.token);
    expect(await api.waitForJob(user.token, jobId)).toMatchObject({ status: 'failed', refunded: true, error: { code: 'PROVIDER_ERROR' } });
    expect(await credits(user.token)).toBe(5);
    const again = await submit(user.token);
    expect(await api.waitForJob(user.token, again)).toMatchObject({ status: 'succeeded' });
  });

  it('retries a busy provider instead of failing the job', async () => {
    const user = await newUser();
    stack.provider.rejectNextCreate(421, 'TASK_QUEUE_MAXED');
    const jobId = await submit(user.token);
    expect(await api.waitForJob(user.token, jobId)).toMatchObject({ status: 'succeeded', refunded: false });
  });

  it('ignores callbacks without the task’s secret, for finished jobs, and repeated ones', async () => {
    const user = await newUser();
    const jobId = await submit(user.token);
    const done = await api.waitForJob(user.token, jobId);
    const task = stack.provider.tasks().find((t) => t.webhookUrl?.includes(jobId));
    expect(task?.webhook.delivered).toBe(true);
    const callbackPath = new URL(task?.webhookUrl as string);
    const body = task?.webhook.lastBody as string;
    const post = (path: string) => api.call('POST', path, { body });
    expect(await post(`/api/provider/callback/${jobId}?secret=forged`)).toMatchObject({ status: 404, body: { error: 'NOT_FOUND' } });
    expect(await post(`/api/provider/callback/${jobId}`)).toMatchObject({ status: 404 });
    expect(await post(`/api/provider/callback/${crypto.randomUUID()}${callbackPath.search}`)).toMatchObject({ status: 404 });
    expect(await post(`${callbackPath.pathname}${callbackPath.search}`)).toEqual({ status: 200, body: { accepted: false } });
    expect((await api.job(user.token, jobId)).body).toEqual({ ...done, outputs: expect.any(Array) });
  });
});

describe('wake-ups and races', () => {
  it('answers TaskTimedOut to SendTaskSuccess for an execution that is gone, and the workflow adapter shrugs it off', async () => {
    const blockers = [await blocker(), await blocker()];
    const user = await newUser();
    const jobId = await submit(user.token);
    await waitUntil(async () => Boolean((await jobRecord(jobId))?.waitToken));
    const token = (await jobRecord(jobId))?.waitToken as string;
    await cancel(user.token, jobId);
    const sfn = new SFNClient({ endpoint: stack.sfnEndpoint });
    await expect(sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' }))).rejects.toMatchObject({ name: 'TaskTimedOut' });
    // The WaitForSlot function, handed the dead token again (a retried invocation), finishes without error.
    await expect(stack.lambda.invoke(stack.functionName('wait-for-slot'), { jobId, taskToken: token })).resolves.toBeNull();
    expect((await api.job(user.token, jobId)).body).toMatchObject({ status: 'cancelled', refunded: true });
    for (const b of blockers) await cancel(b.token, b.jobId);
  });

  it('settles a grant racing a cancel with exactly one outcome', async () => {
    for (let round = 0; round < 6; round++) {
      const blockers = [await blocker(), await blocker()];
      const user = await newUser();
      const jobId = await submit(user.token);
      await waitUntil(async () => Boolean((await jobRecord(jobId))?.waitToken));
      // Free a slot (which grants the queued job) and cancel that job, at the same moment.
      const [, raced] = await Promise.all([cancel(blockers[0]?.token as string, blockers[0]?.jobId as string), cancel(user.token, jobId)]);
      expect(raced.status).toBe(200);
      const job = await api.waitForJob(user.token, jobId);
      expect(job.status).toBe('cancelled');
      // Refunded exactly when it never started.
      expect(job.refunded).toBe(job.startedAt === null);
      expect(await credits(user.token)).toBe(job.refunded ? 10 : 9);
      await cancel(blockers[1]?.token as string, blockers[1]?.jobId as string);
      await assertInvariants(stack);
    }
  }, 60_000);
});
