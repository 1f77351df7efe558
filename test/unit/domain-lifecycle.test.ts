import { describe, expect, it, vi } from 'vitest';
import { JobFinished, NotFound, ProviderBusy, ProviderFailed, ProviderUnavailable } from '../../lambdas/domain/errors';
import { failureCode } from '../../lambdas/domain/lifecycle';
import { type DomainSystem, domainSystem } from '../support/domain-system';

/** One user's job, admitted, parked and granted (running, no task yet). */
async function runningJob(system: DomainSystem, user = 'ana', balance = 5) {
  await system.store.seedUser(user, balance);
  const { jobId } = await system.submit(user);
  await system.queue.park(jobId, `wait-${jobId}`);
  return jobId;
}

const secretOf = (system: DomainSystem, taskId: string) =>
  new URL(system.provider.tasks.get(taskId)?.request.webhookUrl as string).searchParams.get('secret') as string;

/**
 * RunOnProvider whose create answer is lost (the task may exist, its id unrecorded); answers the secret its
 * webhook bears and the id of the task, if `created`.
 */
async function startWithLostAnswer(system: DomainSystem, jobId: string, { created = false } = {}) {
  const create = system.provider.createTask.bind(system.provider);
  let webhookUrl = '';
  let taskId = '';
  vi.spyOn(system.provider, 'createTask').mockImplementationOnce(async (request) => {
    webhookUrl = request.webhookUrl;
    if (created) taskId = (await create(request)).taskId;
    throw new Error('socket hang up');
  });
  await expect(system.lifecycle.startRun(jobId, 'run-token')).rejects.toThrow('socket hang up');
  return { secret: new URL(webhookUrl).searchParams.get('secret') as string, taskId };
}

const sum = (system: DomainSystem, user: string) => system.store.ledgers.get(user)?.reduce((total, e) => total + e.delta, 0);

describe('startRun', () => {
  it('stages the inputs, records the secret, creates the task and records its id', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);

    // Act
    const taskId = await system.run(jobId, 'run-token');

    // Assess
    const task = system.provider.tasks.get(taskId);
    expect(task?.request).toMatchObject({ tool: 'upscale-image', params: { scale: 2 }, files: { image: 'api/1-image' } });
    expect(task?.request.webhookUrl).toMatch(new RegExp(`^https://ghostless\\.test/api/provider/callback/${jobId}\\?secret=[\\w-]{32}$`));
    expect(system.provider.staged).toEqual([
      [{ slot: 'image', contentType: 'image/png', url: `memory://bucket/${(await system.job(jobId)).inputs[0]?.key}` }],
    ]);
    const job = await system.job(jobId);
    expect(job).toMatchObject({
      status: 'running',
      runToken: 'run-token',
      providerTaskId: taskId,
      providerFiles: { image: 'api/1-image' },
    });
    expect(job.creatingAt).toBeUndefined();
    expect(job.callbackSecretHash).toMatch(/^[0-9a-f]{64}$/);
    expect(system.workflow.resumed.filter((r) => r.token === 'run-token')).toEqual([]);
  });

  it('resumes at once when the task had already ended by the time its id was recorded', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    const create = system.provider.createTask.bind(system.provider);
    vi.spyOn(system.provider, 'createTask').mockImplementationOnce(async (request) => {
      const created = await create(request);
      system.provider.finish(created.taskId, { status: 'succeeded', outputs: [] });
      return created;
    });

    // Act
    const taskId = await system.run(jobId, 'run-token');

    // Assess
    expect(system.workflow.resumed).toContainEqual({ token: 'run-token', output: { taskId } });
  });

  it('waits for the webhook when the first look at the outputs fails', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    vi.spyOn(system.provider, 'outputs').mockRejectedValueOnce(new Error('blip'));

    // Act
    const taskId = await system.run(jobId, 'run-token');

    // Assess
    expect(system.workflow.resumed.filter((r) => r.token === 'run-token')).toEqual([]);
    expect(system.logs).toContainEqual({ message: 'outputs check after create failed', fields: { jobId, taskId, error: 'blip' } });
  });

  it('fails the token of a job that is no longer running', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    await system.lifecycle.cancel('ana', jobId);

    // Act
    await system.lifecycle.startRun(jobId, 'run-token');

    // Assess
    expect(system.workflow.failed).toEqual([{ token: 'run-token', error: 'JobFinished', cause: 'Job is cancelled.' }]);
    expect(system.provider.tasks.size).toBe(0);
  });

  it('refuses to create a task the provider could not call back', async () => {
    // Prepare
    const system = domainSystem({ callbackBaseUrl: undefined });
    const jobId = await runningJob(system);

    // Act
    const run = system.lifecycle.startRun(jobId, 'run-token');

    // Assess
    await expect(run).rejects.toThrow('PUBLIC_API_URL is not set: the provider could not call back');
    expect(system.provider.tasks.size).toBe(0);
  });

  it('throws for a job that does not exist', async () => {
    // Prepare
    const system = domainSystem();

    // Act
    const run = system.lifecycle.startRun('00000000-0000-4000-8000-000000000999', 'run-token');

    // Assess
    await expect(run).rejects.toThrow('Job 00000000-0000-4000-8000-000000000999 does not exist');
  });

  it('puts the job back at the head of the queue when the key is full, keeping its staged inputs', async () => {
    // Prepare
    const system = domainSystem({ capacity: 2 });
    const jobId = await runningJob(system);
    const other = await runningJob(system, 'bia');
    system.provider.createErrors.push(new ProviderBusy('421'));

    // Act
    await system.lifecycle.startRun(jobId, 'run-token');

    // Assess: the run step ends as Requeued, with what is left of the queue timeout for WaitForSlot's timer.
    expect(system.workflow.failed).toContainEqual(expect.objectContaining({ token: 'run-token', error: 'Requeued' }));
    const job = await system.job(jobId);
    expect(job).toMatchObject({ status: 'queued', providerFiles: { image: 'api/1-image' } });
    expect(job.slot).toBeUndefined();
    expect(job.callbackSecretHash).toBeUndefined();
    expect(await system.store.providerCapacity()).toMatchObject({ limit: 1 });
    expect((await system.job(other)).status).toBe('running');

    // A second try stages nothing again.
    await system.lifecycle.succeed(other, []);
    await system.queue.park(jobId, 'wait-again');
    system.clock.advance(5000);
    await system.queue.grantNext();
    await system.run(jobId, 'run-again');
    expect(system.provider.staged).toHaveLength(1);
  });

  it('puts the job back without lowering the slot count when the provider is unavailable', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    system.provider.createErrors.push(new ProviderUnavailable('500'));

    // Act
    await system.lifecycle.startRun(jobId, 'run-token');

    // Assess
    expect(system.workflow.failed).toContainEqual(expect.objectContaining({ token: 'run-token', error: 'Requeued' }));
    expect((await system.job(jobId)).status).toBe('queued');
    expect(await system.store.providerCapacity()).toBeNull();
  });

  it('fails the token instead when the job ended while the provider was busy', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    system.provider.createErrors.push(new ProviderBusy('421'));
    vi.spyOn(system.store, 'requeue').mockResolvedValueOnce(false);

    // Act
    await system.lifecycle.startRun(jobId, 'run-token');

    // Assess
    expect(system.workflow.failed).toEqual([{ token: 'run-token', error: 'JobFinished', cause: 'Job ended while the provider was busy.' }]);
  });

  it('lets a refused create fail the job through the state machine', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    system.provider.createErrors.push(new ProviderFailed('433 validation failed'));

    // Act
    const run = system.lifecycle.startRun(jobId, 'run-token');

    // Assess
    await expect(run).rejects.toBeInstanceOf(ProviderFailed);
    expect((await system.job(jobId)).status).toBe('running');
  });

  it('fails the token when the job ended before its token was recorded', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    vi.spyOn(system.store, 'recordToken').mockResolvedValueOnce(false);

    // Act
    await system.lifecycle.startRun(jobId, 'run-token');

    // Assess
    expect(system.workflow.failed).toEqual([{ token: 'run-token', error: 'JobFinished', cause: 'Job ended before its task was created.' }]);
    expect(system.provider.tasks.size).toBe(0);
  });

  it('cancels a task created for a job that was cancelled meanwhile', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    const create = system.provider.createTask.bind(system.provider);
    let taskId = '';
    vi.spyOn(system.provider, 'createTask').mockImplementationOnce(async (request) => {
      const created = await create(request);
      taskId = created.taskId;
      await system.lifecycle.cancel('ana', jobId);
      return created;
    });

    // Act
    await system.lifecycle.startRun(jobId, 'run-token');

    // Assess
    expect(system.provider.cancelled).toEqual([taskId]);
    expect(system.workflow.failed).toEqual([{ token: 'run-token', error: 'JobFinished', cause: 'Job ended while its task was starting.' }]);
  });

  it('leaves a task its webhook adopted first to the webhook', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    const create = system.provider.createTask.bind(system.provider);
    vi.spyOn(system.provider, 'createTask').mockImplementationOnce(async (request) => {
      const created = await create(request);
      const secret = new URL(request.webhookUrl).searchParams.get('secret') as string;
      await system.lifecycle.onProviderCallback(jobId, secret, { taskId: created.taskId });
      return created;
    });

    // Act
    await system.lifecycle.startRun(jobId, 'run-token');

    // Assess
    const job = await system.job(jobId);
    expect(system.provider.cancelled).toEqual([]);
    expect(system.workflow.failed).toEqual([]);
    expect(system.workflow.resumed).toContainEqual({ token: 'run-token', output: { taskId: job.providerTaskId } });
  });

  it('stops its own task when the job already runs another one', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    const create = system.provider.createTask.bind(system.provider);
    let taskId = '';
    vi.spyOn(system.provider, 'createTask').mockImplementationOnce(async (request) => {
      taskId = (await create(request)).taskId;
      await system.store.adoptTask(jobId, '1950000000000000099');
      return { taskId };
    });

    // Act
    await system.lifecycle.startRun(jobId, 'run-token');

    // Assess
    expect(system.provider.cancelled).toEqual([taskId]);
    expect(system.workflow.failed).toEqual([{ token: 'run-token', error: 'JobFinished', cause: 'Job ended while its task was starting.' }]);
    expect((await system.job(jobId)).providerTaskId).toBe('1950000000000000099');
  });

  it('backs off 200, 400 and 800 ms between tries to record the task', async () => {
    vi.useFakeTimers();
    try {
      // Prepare
      const system = domainSystem();
      const jobId = await runningJob(system);
      const adopt = vi.spyOn(system.store, 'adoptTask').mockRejectedValue(new Error('throttled'));
      const run = system.lifecycle.startRun(jobId, 'run-token').catch((error: Error) => error);
      const calls: number[] = [];

      // Act
      for (const step of [0, 199, 1, 399, 1, 799, 1]) {
        await vi.advanceTimersByTimeAsync(step);
        calls.push(adopt.mock.calls.length);
      }

      // Assess
      expect(calls).toEqual([1, 1, 2, 2, 3, 3, 4]);
      expect(((await run) as Error).message).toBe('throttled');
      expect(system.logs).toContainEqual({
        message: 'recording the provider task failed; trying again',
        fields: { jobId, taskId: [...system.provider.tasks.keys()][0], error: 'throttled' },
      });
    } finally {
      vi.useRealTimers();
    }
  });

  it('tries recording the task again when the write fails, and gives up after four tries', async () => {
    // Prepare
    vi.useFakeTimers();
    try {
      const system = domainSystem();
      const jobId = await runningJob(system);
      const adopt = vi.spyOn(system.store, 'adoptTask').mockRejectedValue(new Error('throttled'));

      // Act
      const run = system.lifecycle.startRun(jobId, 'run-token');
      const settled = run.catch((error: Error) => error);
      await vi.runAllTimersAsync();

      // Assess
      expect(((await settled) as Error).message).toBe('throttled');
      expect(adopt).toHaveBeenCalledTimes(4);
      expect(system.logs.filter((l) => l.message === 'recording the provider task failed; trying again')).toHaveLength(3);
    } finally {
      vi.useRealTimers();
    }
  });

  it('records the task when a retried write succeeds', async () => {
    // Prepare
    vi.useFakeTimers();
    try {
      const system = domainSystem();
      const jobId = await runningJob(system);
      vi.spyOn(system.store, 'adoptTask').mockRejectedValueOnce(new Error('throttled'));

      // Act
      const run = system.lifecycle.startRun(jobId, 'run-token');
      await vi.runAllTimersAsync();
      await run;

      // Assess
      expect((await system.job(jobId)).providerTaskId).toBe([...system.provider.tasks.keys()][0]);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('onProviderCallback', () => {
  it('resumes the run when the secret and the task id match', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    const taskId = await system.run(jobId, 'run-token');

    // Act
    const answer = await system.lifecycle.onProviderCallback(jobId, secretOf(system, taskId), { event: 'TASK_END', taskId });

    // Assess
    expect(answer).toEqual({ accepted: true });
    expect(system.workflow.resumed).toContainEqual({ token: 'run-token', output: { taskId } });
  });

  it('turns away an unknown job, a wrong or missing secret, and a job with no secret', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    await system.store.seedUser('bia', 5);
    const { jobId: queuedJob } = await system.submit('bia');
    const taskId = await system.run(jobId, 'run-token');
    const secret = secretOf(system, taskId);
    const resumes = system.workflow.resumed.length;

    // Act
    const answers = await Promise.allSettled([
      system.lifecycle.onProviderCallback('00000000-0000-4000-8000-000000000999', secret, { taskId }),
      system.lifecycle.onProviderCallback(jobId, `${secret.slice(0, -1)}x`, { taskId }),
      system.lifecycle.onProviderCallback(jobId, undefined, { taskId }),
      system.lifecycle.onProviderCallback(jobId, '', { taskId }),
      system.lifecycle.onProviderCallback(queuedJob, secret, { taskId }),
    ]);

    // Assess
    for (const answer of answers) {
      expect(answer.status).toBe('rejected');
      expect((answer as PromiseRejectedResult).reason).toBeInstanceOf(NotFound);
      expect((answer as PromiseRejectedResult).reason.message).toBe('No task waits for this callback.');
    }
    expect(system.workflow.resumed).toHaveLength(resumes);
    expect(system.provider.cancelled).toEqual([]);
  });

  it('stops a task of the job that is not the one it recorded, and does not resume the run', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    const taskId = await system.run(jobId, 'run-token');
    const { taskId: stray } = await system.provider.createTask({ tool: 'upscale-image', params: {}, files: {}, webhookUrl: '' });

    // Act
    const answer = await system.lifecycle.onProviderCallback(jobId, secretOf(system, taskId), { taskId: stray });

    // Assess
    expect(answer).toEqual({ accepted: false });
    expect(system.provider.cancelled).toEqual([stray]);
    expect(system.workflow.resumed.filter((r) => r.token === 'run-token')).toEqual([]);
    expect((await system.job(jobId)).providerTaskId).toBe(taskId);
    expect(system.logs).toContainEqual({
      message: 'provider task not accounted for: cancelling it',
      fields: { jobId, taskId: stray, status: 'running' },
    });
  });

  it('ignores a callback without a task id', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    const taskId = await system.run(jobId, 'run-token');
    const secret = secretOf(system, taskId);

    // Act
    const answers = [
      await system.lifecycle.onProviderCallback(jobId, secret, {}),
      await system.lifecycle.onProviderCallback(jobId, secret, null),
      await system.lifecycle.onProviderCallback(jobId, secret, { taskId: { id: taskId } }),
    ];

    // Assess
    expect(answers).toEqual([{ accepted: false }, { accepted: false }, { accepted: false }]);
    expect(system.workflow.resumed.filter((r) => r.token === 'run-token')).toEqual([]);
    expect(system.provider.cancelled).toEqual([]);
  });

  it('ignores a late or repeated callback once the job has ended, without side effects', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    const taskId = await system.run(jobId, 'run-token');
    const secret = secretOf(system, taskId);
    await system.lifecycle.onProviderCallback(jobId, secret, { taskId });
    await system.lifecycle.succeed(jobId, []);
    const before = {
      job: await system.job(jobId),
      resumed: system.workflow.resumed.length,
      ledger: system.store.ledgers.get('ana')?.length,
    };

    // Act
    const answers = [
      await system.lifecycle.onProviderCallback(jobId, secret, { taskId }),
      await system.lifecycle.onProviderCallback(jobId, secret, { taskId }),
    ];

    // Assess
    expect(answers).toEqual([{ accepted: false }, { accepted: false }]);
    expect(await system.job(jobId)).toEqual(before.job);
    expect(system.workflow.resumed).toHaveLength(before.resumed);
    expect(system.store.ledgers.get('ana')?.length).toBe(before.ledger);
    expect(system.provider.cancelled).toEqual([]);
  });

  it('adopts the task of a running job whose create answer was lost, and resumes the run', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    const { secret, taskId } = await startWithLostAnswer(system, jobId, { created: true });

    // Act
    const answer = await system.lifecycle.onProviderCallback(jobId, secret, { taskId });

    // Assess
    expect(answer).toEqual({ accepted: true });
    expect((await system.job(jobId)).providerTaskId).toBe(taskId);
    expect(system.workflow.resumed).toContainEqual({ token: 'run-token', output: { taskId } });
    expect(system.logs).toContainEqual({ message: 'provider task adopted by its webhook', fields: { jobId, taskId } });
  });

  it('takes a task id sent as a number', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    const { secret } = await startWithLostAnswer(system, jobId);

    // Act
    const answer = await system.lifecycle.onProviderCallback(jobId, secret, {
      taskId: 12345,
    });

    // Assess
    expect(answer).toEqual({ accepted: true });
    expect((await system.job(jobId)).providerTaskId).toBe('12345');
    expect(system.workflow.resumed).toContainEqual({ token: 'run-token', output: { taskId: '12345' } });
  });

  it('stops a task bearing the secret of a job that ended before it was recorded', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    const { secret } = await startWithLostAnswer(system, jobId);
    await system.lifecycle.fail(jobId, { kind: 'internal' });

    // Act
    const answer = await system.lifecycle.onProviderCallback(jobId, secret, {
      taskId: '1950000000000000077',
    });

    // Assess
    expect(answer).toEqual({ accepted: false });
    expect(system.provider.cancelled).toEqual(['1950000000000000077']);
    expect((await system.job(jobId)).providerTaskId).toBeUndefined();
  });
});

describe('collectOutputs', () => {
  it("copies each of the provider's outputs into the job's own keys", async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    const taskId = await system.run(jobId);
    system.files.remote.set('https://cdn.test/a.png', { contentType: 'image/png', bytes: 10 });
    system.files.remote.set('https://cdn.test/b.webp', { contentType: 'image/webp', bytes: 20 });
    system.provider.finish(taskId, {
      status: 'succeeded',
      outputs: [
        { fileUrl: 'https://cdn.test/a.png', fileType: 'png' },
        { fileUrl: 'https://cdn.test/b.webp', fileType: 'webp' },
      ],
    });

    // Act
    const outputs = await system.lifecycle.collectOutputs(jobId);

    // Assess
    expect(outputs).toEqual([
      { key: `outputs/${jobId}/0`, contentType: 'image/png', bytes: 10 },
      { key: `outputs/${jobId}/1`, contentType: 'image/webp', bytes: 20 },
    ]);
    expect(system.files.objects.has(`outputs/${jobId}/1`)).toBe(true);
  });

  it("fails with the provider's reason, or when there is nothing to collect", async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    const taskId = await system.run(jobId);

    // Act
    const running = await system.lifecycle.collectOutputs(jobId).catch((e: Error) => e);
    system.provider.finish(taskId, { status: 'failed', reason: 'node 12 ran out of memory' });
    const failed = await system.lifecycle.collectOutputs(jobId).catch((e: Error) => e);
    system.provider.finish(taskId, { status: 'succeeded', outputs: [] });
    const empty = await system.lifecycle.collectOutputs(jobId).catch((e: Error) => e);

    // Assess
    expect(running).toEqual(new Error('The provider called back before its task ended'));
    expect(failed).toEqual(new ProviderFailed('node 12 ran out of memory'));
    expect(failed).toBeInstanceOf(ProviderFailed);
    expect(empty).toEqual(new ProviderFailed('The provider returned no output.'));
    expect(empty).toBeInstanceOf(ProviderFailed);
  });

  it('refuses an output that breaks the rule of the tool', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    const taskId = await system.run(jobId);
    system.files.remote.set('https://cdn.test/a.mp4', { contentType: 'video/mp4', bytes: 10 });
    system.provider.finish(taskId, { status: 'succeeded', outputs: [{ fileUrl: 'https://cdn.test/a.mp4', fileType: 'mp4' }] });

    // Act
    const collecting = system.lifecycle.collectOutputs(jobId);

    // Assess
    await expect(collecting).rejects.toBeInstanceOf(ProviderFailed);
  });

  it('throws for a job without a task', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);

    // Act
    const collecting = system.lifecycle.collectOutputs(jobId);

    // Assess
    await expect(collecting).rejects.toThrow(`Job ${jobId} has no provider task`);
  });
});

describe('finalizing', () => {
  it('finalizes a success: outputs kept, no refund, slot and lock released, the next job granted', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1 });
    const jobId = await runningJob(system);
    const next = await runningJob(system, 'bia');
    system.clock.advance(60_000);
    const outputs = [{ key: `outputs/${jobId}/0`, contentType: 'image/png', bytes: 3 }];

    // Act
    await system.lifecycle.succeed(jobId, outputs);

    // Assess
    expect(await system.job(jobId)).toMatchObject({
      status: 'succeeded',
      error: null,
      refunded: false,
      outputs,
      completedAt: '2026-01-01T00:01:00.000Z',
    });
    expect((await system.job(jobId)).runToken).toBeUndefined();
    expect(await system.store.balance('ana')).toBe(4);
    expect(await system.store.activeJobId('ana')).toBeNull();
    expect((await system.job(next)).status).toBe('running');
    expect(system.outcomes).toEqual([{ status: 'succeeded', tool: 'upscale-image' }]);
    const view = await system.queries.getJob('ana', jobId);
    expect(view.outputs).toEqual([{ url: `memory://bucket/outputs/${jobId}/0`, contentType: 'image/png', bytes: 3 }]);
    expect(view.position).toBeNull();
  });

  it('finalizes a provider failure as PROVIDER_ERROR with its reason and a refund', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    await system.run(jobId);

    // Act
    await system.lifecycle.fail(jobId, { kind: 'provider-failed', reason: 'node 12 ran out of memory' });

    // Assess
    const job = await system.job(jobId);
    expect(job).toMatchObject({ status: 'failed', refunded: true });
    expect(job.error).toEqual({
      code: 'PROVIDER_ERROR',
      message: 'The AI provider could not process this job (node 12 ran out of memory); your credits were refunded.',
    });
    expect(await system.store.balance('ana')).toBe(5);
    expect(sum(system, 'ana')).toBe(5);
    expect(system.outcomes).toEqual([{ status: 'failed', tool: 'upscale-image' }]);
  });

  it("shows no reason that is not the provider's own message", async () => {
    // Prepare
    const system = domainSystem();
    const ids = [await runningJob(system, 'u1'), await runningJob(system, 'u2'), await runningJob(system, 'u3')];
    const long = 'x'.repeat(300);

    // Act
    await system.lifecycle.fail(ids[0] as string, { kind: 'provider-failed' });
    await system.lifecycle.fail(ids[1] as string, { kind: 'provider-refused' });
    await system.lifecycle.fail(ids[2] as string, { kind: 'provider-failed', reason: long });

    // Assess
    const messages = await Promise.all(ids.map(async (id) => (await system.job(id)).error?.message));
    expect(messages).toEqual([
      'The AI provider could not process this job; your credits were refunded.',
      'The AI provider could not process this job; your credits were refunded.',
      `The AI provider could not process this job (${'x'.repeat(200)}); your credits were refunded.`,
    ]);
  });

  it('omits an empty or missing provider reason', async () => {
    // Prepare
    const system = domainSystem();
    const ids = [await runningJob(system, 'u1'), await runningJob(system, 'u2')];

    // Act
    await system.lifecycle.fail(ids[0] as string, { kind: 'provider-failed' });
    await system.lifecycle.fail(ids[1] as string, { kind: 'provider-failed', reason: '' });

    // Assess
    const messages = await Promise.all(ids.map(async (id) => (await system.job(id)).error?.message));
    expect(new Set(messages)).toEqual(new Set(['The AI provider could not process this job; your credits were refunded.']));
  });

  it('finalizes a run timeout as PROVIDER_TIMEOUT, stopping the provider task first', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    const taskId = await system.run(jobId);

    // Act
    await system.lifecycle.fail(jobId, { kind: 'timeout' });

    // Assess
    const job = await system.job(jobId);
    expect(job.error).toEqual({ code: 'PROVIDER_TIMEOUT', message: 'The AI provider took too long; your credits were refunded.' });
    expect(job.providerCancelledAt).toBe('2026-01-01T00:00:00.000Z');
    expect(job.refunded).toBe(true);
    expect(system.provider.cancelled).toEqual([taskId]);
    expect(await system.store.counts()).toEqual({ running: 0, queued: 0 });
  });

  it('finalizes a queue timeout as QUEUE_TIMEOUT with a refund, taking the job off the queue', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1 });
    await runningJob(system);
    const waiting = await runningJob(system, 'bia');

    // Act
    await system.lifecycle.fail(waiting, { kind: 'timeout' });

    // Assess
    const job = await system.job(waiting);
    expect(job.error).toEqual({ code: 'QUEUE_TIMEOUT', message: 'The queue was too long; your credits were refunded.' });
    expect(await system.store.balance('bia')).toBe(5);
    expect(await system.store.counts()).toEqual({ running: 1, queued: 0 });
    expect(system.provider.cancelled).toEqual([]);
  });

  it('finalizes a healed job as HEALED and an unknown error as INTERNAL, both refunded', async () => {
    // Prepare
    const system = domainSystem();
    const healed = await runningJob(system, 'u1');
    const broken = await runningJob(system, 'u2');

    // Act
    await system.lifecycle.fail(healed, { kind: 'healed' });
    await system.lifecycle.fail(broken, { kind: 'internal' });

    // Assess
    expect((await system.job(healed)).error).toEqual({
      code: 'HEALED',
      message: 'This job stopped responding and was closed automatically; your credits were refunded.',
    });
    expect((await system.job(broken)).error).toEqual({
      code: 'INTERNAL',
      message: 'Something went wrong on our side; your credits were refunded.',
    });
    expect([await system.store.balance('u1'), await system.store.balance('u2')]).toEqual([5, 5]);
    expect((await system.job(broken)).outputs).toEqual([]);
  });

  it('refunds at most once and never finalizes twice', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    await system.lifecycle.fail(jobId, { kind: 'healed' });

    // Act
    await system.lifecycle.fail(jobId, { kind: 'timeout' });
    await system.lifecycle.succeed(jobId, []);

    // Assess
    expect((await system.job(jobId)).error?.code).toBe('HEALED');
    expect(await system.store.balance('ana')).toBe(5);
    expect(system.store.ledgers.get('ana')?.map((e) => e.reason)).toEqual(['adjustment', 'debit', 'refund']);
    expect(system.outcomes).toHaveLength(1);
  });

  it('tries again while the job changes under it, and gives up after five tries', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    const finalize = vi.spyOn(system.store, 'finalize').mockResolvedValue(false);

    // Act
    const finishing = system.lifecycle.succeed(jobId, []);

    // Assess
    await expect(finishing).rejects.toThrow(`Job ${jobId} kept changing while being finalized`);
    expect(finalize).toHaveBeenCalledTimes(5);
  });

  it('keeps the job final when the hand-off to the next job fails', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    vi.spyOn(system.queue, 'grantNext').mockRejectedValueOnce(new Error('throttled'));

    // Act
    await system.lifecycle.succeed(jobId, []);

    // Assess
    expect((await system.job(jobId)).status).toBe('succeeded');
    expect(system.logs).toContainEqual({ message: 'grant after finalize failed', fields: { jobId, error: 'Error: throttled' } });
  });

  it('does not refund a job that was never charged', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    system.store.jobs.get(jobId)!.job.charged = false;

    // Act
    await system.lifecycle.fail(jobId, { kind: 'healed' });

    // Assess
    expect((await system.job(jobId)).refunded).toBe(false);
    expect(await system.store.balance('ana')).toBe(4);
  });
});

describe('cancel', () => {
  it('cancels a queued job with a refund and stops its execution', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1 });
    await runningJob(system);
    const waiting = await runningJob(system, 'bia');

    // Act
    const job = await system.lifecycle.cancel('bia', waiting);

    // Assess
    expect(job).toMatchObject({
      status: 'cancelled',
      refunded: true,
      error: { code: 'CANCELLED_BY_USER', message: 'You cancelled this job.' },
    });
    expect(await system.job(waiting)).toMatchObject({ status: 'cancelled', refunded: true });
    expect(await system.store.balance('bia')).toBe(5);
    expect(system.store.ledgers.get('bia')?.at(-1)).toMatchObject({ reason: 'refund', delta: 1, balance: 5, jobId: waiting });
    expect(await system.store.activeJobId('bia')).toBeNull();
    expect(system.workflow.stopped).toEqual([{ jobId: waiting, cause: 'Cancelled by the user' }]);
    expect(await system.store.counts()).toEqual({ running: 1, queued: 0 });
  });

  it('cancels a running job without a refund, stopping its provider task before the slot is handed on', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1 });
    const jobId = await runningJob(system);
    const taskId = await system.run(jobId);
    const next = await runningJob(system, 'bia');
    let nextWhenCancelled = '';
    const cancelTask = system.provider.cancel.bind(system.provider);
    vi.spyOn(system.provider, 'cancel').mockImplementation(async (id) => {
      nextWhenCancelled = (await system.job(next)).status;
      return cancelTask(id);
    });

    // Act
    const job = await system.lifecycle.cancel('ana', jobId);

    // Assess
    expect(job).toMatchObject({ status: 'cancelled', refunded: false });
    expect(await system.store.balance('ana')).toBe(4);
    expect(system.provider.cancelled).toEqual([taskId]);
    expect(nextWhenCancelled).toBe('queued');
    expect((await system.job(next)).status).toBe('running');
    expect((await system.job(jobId)).providerCancelledAt).toBeDefined();
  });

  it('stops a task that was created while the cancel was being committed', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    const getJob = system.store.getJob.bind(system.store);
    vi.spyOn(system.store, 'getJob').mockImplementationOnce(async (id) => {
      const seen = await getJob(id);
      system.store.jobs.get(jobId)!.job.providerTaskId = '1950000000000000042';
      return seen;
    });

    // Act
    await system.lifecycle.cancel('ana', jobId);

    // Assess
    expect(system.provider.cancelled).toEqual(['1950000000000000042']);
  });

  it('keeps going when the provider refuses to cancel', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    const taskId = await system.run(jobId);
    vi.spyOn(system.provider, 'cancel').mockRejectedValueOnce(new Error('807 cannot cancel'));

    // Act
    const job = await system.lifecycle.cancel('ana', jobId);

    // Assess
    expect(job.status).toBe('cancelled');
    expect(system.logs).toContainEqual({ message: 'provider cancel failed', fields: { taskId, error: '807 cannot cancel' } });
  });

  it("answers 404 for someone else's job or an unknown one, and JOB_FINISHED for a finished one", async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    await system.lifecycle.succeed(jobId, []);

    // Act
    const theirs = system.lifecycle.cancel('bia', jobId);
    const unknown = system.lifecycle.cancel('ana', '00000000-0000-4000-8000-000000000999');
    const finished = system.lifecycle.cancel('ana', jobId);

    // Assess
    await expect(theirs).rejects.toEqual(new NotFound('No job with this id.'));
    await expect(unknown).rejects.toBeInstanceOf(NotFound);
    await expect(finished).rejects.toBeInstanceOf(JobFinished);
    expect(system.workflow.stopped).toEqual([]);
  });

  it('does not note a cancel twice on a task already being stopped', async () => {
    // Prepare
    const system = domainSystem();
    const jobId = await runningJob(system);
    await system.run(jobId);
    system.store.jobs.get(jobId)!.job.providerCancelledAt = '2025-12-31T00:00:00.000Z';

    // Act
    await system.lifecycle.cancel('ana', jobId);

    // Assess
    expect((await system.job(jobId)).providerCancelledAt).toBe('2025-12-31T00:00:00.000Z');
  });
});

describe('releaseQueue', () => {
  it("cancels the caller's waiting job with a refund", async () => {
    // Prepare
    const system = domainSystem({ capacity: 1 });
    await runningJob(system);
    const waiting = await runningJob(system, 'bia');

    // Act
    const answer = await system.lifecycle.releaseQueue('bia', await system.store.activeJobId('bia'));

    // Assess
    expect(answer).toEqual({ cancelled: [waiting] });
    expect(await system.store.balance('bia')).toBe(5);
  });

  it('cancels nothing for a running job, no job, or one that ended meanwhile', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1 });
    const running = await runningJob(system);
    const waiting = await runningJob(system, 'bia');
    vi.spyOn(system.store, 'finalize').mockImplementationOnce(async () => {
      await system.lifecycle.fail(waiting, { kind: 'timeout' });
      return false;
    });

    // Act
    const answers = [
      await system.lifecycle.releaseQueue('ana', running),
      await system.lifecycle.releaseQueue('ana', null),
      await system.lifecycle.releaseQueue('bia', waiting),
    ];

    // Assess
    expect(answers).toEqual([{ cancelled: [] }, { cancelled: [] }, { cancelled: [] }]);
    expect((await system.job(running)).status).toBe('running');
    expect((await system.job(waiting)).error?.code).toBe('QUEUE_TIMEOUT');
  });

  it('leaves running, charged once, a job granted its slot between the click and the write', async () => {
    // Prepare: the slot frees and the waiting job is granted while the release is deciding.
    const system = domainSystem({ capacity: 1 });
    const running = await runningJob(system);
    const waiting = await runningJob(system, 'bia');
    const finalize = system.store.finalize.bind(system.store);
    vi.spyOn(system.store, 'finalize').mockImplementationOnce(async (job, change) => {
      await system.lifecycle.succeed(running, []);
      return finalize(job, change);
    });

    // Act
    const answer = await system.lifecycle.releaseQueue('bia', waiting);

    // Assess
    expect(answer).toEqual({ cancelled: [] });
    expect(await system.job(waiting)).toMatchObject({ status: 'running', refunded: false });
    expect(await system.store.balance('bia')).toBe(4);
  });

  it('passes on any other error', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1 });
    await runningJob(system);
    const waiting = await runningJob(system, 'bia');
    vi.spyOn(system.store, 'finalize').mockRejectedValueOnce(new Error('throttled'));

    // Act
    const release = system.lifecycle.releaseQueue('bia', waiting);

    // Assess
    await expect(release).rejects.toThrow('throttled');
  });
});

describe('failureCode', () => {
  const job = (status: 'queued' | 'running') => ({ status }) as Parameters<typeof failureCode>[0];

  it('reads a timeout by where the job was', () => {
    expect(failureCode(job('queued'), { kind: 'timeout' })).toBe('QUEUE_TIMEOUT');
    expect(failureCode(job('running'), { kind: 'timeout' })).toBe('PROVIDER_TIMEOUT');
  });

  it("maps the provider's errors, a heal, and anything else", () => {
    expect(failureCode(job('running'), { kind: 'provider-failed' })).toBe('PROVIDER_ERROR');
    expect(failureCode(job('running'), { kind: 'provider-refused' })).toBe('PROVIDER_ERROR');
    expect(failureCode(job('queued'), { kind: 'healed' })).toBe('HEALED');
    expect(failureCode(job('running'), { kind: 'internal' })).toBe('INTERNAL');
    expect(failureCode(job('running'), { kind: 'queue-timeout' })).toBe('QUEUE_TIMEOUT');
  });
});
