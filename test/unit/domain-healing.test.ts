import { describe, expect, it, vi } from 'vitest';
import { waitingJob } from '../../bench/support';
import { diagnoseJob } from '../../lambdas/domain/healing';
import { inputKey, type JobRecord } from '../../lambdas/domain/jobs';
import type { ExecutionStatus } from '../../lambdas/domain/ports';
import { runningDeadlineSeconds } from '../../lambdas/domain/run-budget';
import { type DomainSystem, domainSystem } from '../support/domain-system';

const GRACE = 120_000;
const NOW = new Date('2026-01-01T12:00:00.000Z');
const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();

function record(overrides: Partial<JobRecord>): JobRecord {
  return waitingJob('ana', ago(GRACE + 1), {
    jobId: '00000000-0000-4000-8000-000000000001',
    limits: { queueSeconds: 600, runSeconds: 300 },
    ...overrides,
  });
}

const diagnose = (job: JobRecord, execution: ExecutionStatus | undefined = 'MISSING') =>
  diagnoseJob(job, NOW, GRACE, async () => execution);

describe('diagnoseJob', () => {
  it('leaves a queued job alone during its grace, whatever its execution', async () => {
    expect(await diagnose(record({ createdAt: ago(GRACE - 1) }))).toBeNull();
  });

  it('finds a queued job without a driver once its grace has passed', async () => {
    expect(await diagnose(record({ createdAt: ago(GRACE) }))).toBe('queued_without_driver');
    expect(await diagnose(record({}), 'ABORTED')).toBe('queued_without_driver');
  });

  it('leaves a queued job with a running execution alone until its queue timeout and grace have passed', async () => {
    const limit = 600_000 + GRACE;
    expect(await diagnose(record({ createdAt: ago(limit) }), 'RUNNING')).toBeNull();
    expect(await diagnose(record({ createdAt: ago(limit + 1) }), 'RUNNING')).toBe('queued_past_timeout');
  });

  it('finds a running job past its deadline and grace, even with a running execution', async () => {
    const running = { status: 'running' as const, createdAt: ago(GRACE - 1), startedAt: ago(GRACE - 1) };
    expect(await diagnose(record({ ...running, deadline: ago(GRACE) }), 'RUNNING')).toBeNull();
    expect(await diagnose(record({ ...running, deadline: ago(GRACE + 1) }), 'RUNNING')).toBe('running_past_deadline');
  });

  it('gives a running job its grace from admission, not from the grant', async () => {
    const young = record({ status: 'running', createdAt: ago(GRACE - 1), startedAt: ago(1000), deadline: ago(-60_000) });
    const old = record({ status: 'running', createdAt: ago(GRACE), startedAt: ago(1000), deadline: ago(-60_000) });
    expect(await diagnose(young)).toBeNull();
    expect(await diagnose(old)).toBe('running_without_driver');
    expect(await diagnose(old, 'FAILED')).toBe('running_without_driver');
  });

  it('finds a granted job whose wake-up never reached its parked execution', async () => {
    const granted = { status: 'running' as const, waitToken: 'wait', deadline: ago(-60_000) };
    expect(await diagnose(record({ ...granted, startedAt: ago(GRACE + 1) }), 'RUNNING')).toBe('lost_wakeup');
    expect(await diagnose(record({ ...granted, startedAt: ago(GRACE) }), 'RUNNING')).toBeNull();
    expect(await diagnose(record({ ...granted, startedAt: ago(GRACE + 1), runToken: 'run' }), 'RUNNING')).toBeNull();
    expect(await diagnose(record({ ...granted, startedAt: ago(GRACE + 1), waitToken: undefined }), 'RUNNING')).toBeNull();
    expect(await diagnose(record({ waitToken: 'wait' }), 'RUNNING')).toBeNull();
  });

  it('answers unverified when the execution cannot be looked up', async () => {
    expect(await diagnoseJob(record({}), NOW, GRACE, async () => undefined)).toBe('unverified');
  });

  it('does not look the execution up for a job it already judged', async () => {
    const status = vi.fn(async () => 'MISSING' as const);
    await diagnoseJob(record({ createdAt: ago(1) }), NOW, GRACE, status);
    await diagnoseJob(record({ createdAt: ago(600_000 + GRACE + 1) }), NOW, GRACE, status);
    expect(status).not.toHaveBeenCalled();
  });
});

/** One user's job, admitted, parked and granted, whose task is created. */
async function runningWithTask(system: DomainSystem, user = 'ana') {
  await system.store.seedUser(user, 5);
  const { jobId } = await system.submit(user);
  await system.queue.park(jobId, `wait-${jobId}`);
  const taskId = await system.run(jobId, `run-${jobId}`);
  return { jobId, taskId };
}

/** The job's execution died: the state machine will never finalize it. */
const driverDies = (system: DomainSystem, jobId: string) => system.workflow.executions.set(jobId, 'FAILED');

describe('sweep', () => {
  it('keeps the outcome of a driverless job whose task succeeded', async () => {
    // Prepare
    const system = domainSystem();
    const { jobId, taskId } = await runningWithTask(system);
    system.files.remote.set('https://cdn.test/out.png', { contentType: 'image/png', bytes: 7 });
    system.provider.finish(taskId, { status: 'succeeded', outputs: [{ fileUrl: 'https://cdn.test/out.png', fileType: 'png' }] });
    driverDies(system, jobId);
    system.clock.advance(GRACE);

    // Act
    const { repairs } = await system.healing.sweep();

    // Assess
    expect(repairs).toEqual({ running_without_driver: 1 });
    expect(await system.job(jobId)).toMatchObject({
      status: 'succeeded',
      refunded: false,
      outputs: [{ key: `outputs/${jobId}/0`, bytes: 7 }],
    });
    expect(system.workflow.stopped).toEqual([]);
  });

  it('fails a driverless job whose task failed as PROVIDER_ERROR, refunded', async () => {
    // Prepare
    const system = domainSystem();
    const { jobId, taskId } = await runningWithTask(system);
    system.provider.finish(taskId, { status: 'failed', reason: 'out of memory' });
    driverDies(system, jobId);
    system.clock.advance(GRACE);

    // Act
    await system.healing.sweep();

    // Assess
    expect((await system.job(jobId)).error).toEqual({
      code: 'PROVIDER_ERROR',
      message: 'The AI provider could not process this job (out of memory); your credits were refunded.',
    });
    expect(await system.store.balance('ana')).toBe(5);
    expect(system.workflow.stopped).toEqual([{ jobId, cause: 'Healed by the sweeper' }]);
  });

  it('cancels the task of a driverless job still running at the provider and fails it HEALED, refunded', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1 });
    const { jobId, taskId } = await runningWithTask(system);
    await system.store.seedUser('bia', 5);
    const { jobId: next } = await system.submit('bia');
    await system.queue.park(next, 'wait-bia');
    driverDies(system, jobId);
    system.clock.advance(GRACE);

    // Act
    await system.healing.sweep();

    // Assess
    expect((await system.job(jobId)).error?.code).toBe('HEALED');
    expect(system.provider.cancelled).toEqual([taskId]);
    expect(await system.store.balance('ana')).toBe(5);
    expect(await system.store.activeJobId('ana')).toBeNull();
    expect((await system.job(next)).status).toBe('running');
  });

  it('fails HEALED a job whose outputs could not be collected', async () => {
    // Prepare
    const system = domainSystem();
    const { jobId, taskId } = await runningWithTask(system);
    system.provider.finish(taskId, { status: 'succeeded', outputs: [{ fileUrl: 'https://gone.test/x.png', fileType: 'png' }] });
    driverDies(system, jobId);
    system.clock.advance(GRACE);

    // Act
    await system.healing.sweep();

    // Assess
    expect((await system.job(jobId)).error?.code).toBe('HEALED');
    expect(system.logs).toContainEqual({
      message: 'healing could not collect outputs',
      fields: { jobId, error: "The provider's output https://gone.test/x.png could not be fetched." },
    });
  });

  it("does not read Ghostless's own cancel of the task as the provider's failure", async () => {
    // Prepare
    const system = domainSystem();
    const { jobId, taskId } = await runningWithTask(system);
    await system.provider.cancel(taskId);
    system.store.jobs.get(jobId)!.job.providerCancelledAt = system.clock.now().toISOString();
    driverDies(system, jobId);
    system.clock.advance(GRACE);
    const outputs = vi.spyOn(system.provider, 'outputs');

    // Act
    await system.healing.sweep();

    // Assess
    expect((await system.job(jobId)).error?.code).toBe('HEALED');
    expect(outputs).not.toHaveBeenCalled();
  });

  it('reads the failure as HEALED when a concurrent healer cancelled the task after this one looked', async () => {
    // Prepare
    const system = domainSystem();
    const { jobId, taskId } = await runningWithTask(system);
    const outputs = system.provider.outputs.bind(system.provider);
    vi.spyOn(system.provider, 'outputs').mockImplementationOnce(async (id) => {
      await system.provider.cancel(id);
      system.store.jobs.get(jobId)!.job.providerCancelledAt = system.clock.now().toISOString();
      return outputs(id);
    });
    driverDies(system, jobId);
    system.clock.advance(GRACE);

    // Act
    await system.healing.sweep();

    // Assess
    expect(system.provider.tasks.get(taskId)?.outcome.status).toBe('failed');
    expect((await system.job(jobId)).error?.code).toBe('HEALED');
  });

  it('heals a job whose provider cannot be asked as HEALED', async () => {
    // Prepare
    const system = domainSystem();
    const { jobId } = await runningWithTask(system);
    vi.spyOn(system.provider, 'outputs').mockRejectedValue(new Error('500'));
    driverDies(system, jobId);
    system.clock.advance(GRACE);

    // Act
    await system.healing.sweep();

    // Assess
    expect((await system.job(jobId)).error?.code).toBe('HEALED');
  });

  it('heals a queued job without a driver and one past its queue timeout, refunding both', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1, queueSeconds: 60 });
    await runningWithTask(system, 'u1');
    await system.store.seedUser('u2', 5);
    await system.store.seedUser('u3', 5);
    const { jobId: driverless } = await system.submit('u2');
    const { jobId: stale } = await system.submit('u3');
    driverDies(system, driverless);
    system.clock.advance(GRACE + 1);
    system.store.jobs.get(stale)!.job.createdAt = new Date(system.clock.now().getTime() - 60_000 - GRACE - 1).toISOString();

    // Act
    const { repairs } = await system.healing.sweep();

    // Assess
    expect(repairs).toMatchObject({ queued_without_driver: 1, queued_past_timeout: 1 });
    expect((await system.job(driverless)).error?.code).toBe('HEALED');
    expect((await system.job(stale)).error?.code).toBe('HEALED');
    expect([await system.store.balance('u2'), await system.store.balance('u3')]).toEqual([5, 5]);
  });

  it('heals a running job past its deadline even though its execution still runs', async () => {
    // Prepare
    const system = domainSystem({ runSeconds: 60 });
    const { jobId } = await runningWithTask(system);
    system.clock.advance(runningDeadlineSeconds(60) * 1000 + GRACE + 1);

    // Act
    const { repairs } = await system.healing.sweep();

    // Assess
    expect(repairs).toEqual({ running_past_deadline: 1 });
    expect(system.logs).toContainEqual({ message: 'healing job', fields: { jobId, status: 'running', repair: 'running_past_deadline' } });
    expect((await system.job(jobId)).error?.code).toBe('HEALED');
    expect(system.workflow.stopped).toEqual([{ jobId, cause: 'Healed by the sweeper' }]);
  });

  it('wakes a granted job whose wake-up was lost, without finalizing it', async () => {
    // Prepare
    const system = domainSystem();
    await system.store.seedUser('ana', 5);
    const { jobId } = await system.submit('ana');
    await system.store.recordToken(jobId, 'queued', 'wait-token');
    vi.spyOn(system.workflow, 'resume').mockRejectedValueOnce(new Error('lost'));
    await system.queue.grantNext().catch(() => undefined);
    system.clock.advance(GRACE + 1);

    // Act
    const { repairs } = await system.healing.sweep();

    // Assess
    expect(repairs).toEqual({ lost_wakeup: 1 });
    expect(system.workflow.resumed).toEqual([{ token: 'wait-token', output: { slot: 1 } }]);
    expect((await system.job(jobId)).status).toBe('running');
  });

  it('grants free slots to waiting jobs and counts each as a lost wake-up', async () => {
    // Prepare
    const system = domainSystem({ capacity: 2 });
    await system.store.seedUser('ana', 5);
    await system.store.seedUser('bia', 5);
    const { jobId: a } = await system.submit('ana');
    const { jobId: b } = await system.submit('bia');

    // Act
    const { repairs } = await system.healing.sweep();

    // Assess
    expect(repairs).toEqual({ lost_wakeup: 2 });
    expect([(await system.job(a)).status, (await system.job(b)).status]).toEqual(['running', 'running']);
  });

  it('releases a slot held by a job that is not running in it, and keeps the slot a running job holds', async () => {
    // Prepare
    const system = domainSystem({ capacity: 3 });
    const { jobId } = await runningWithTask(system);
    await system.store.seedUser('bia', 5);
    const { jobId: finished } = await system.submit('bia');
    await system.lifecycle.cancel('bia', finished);
    system.store.slots.set(2, jobId);
    system.store.slots.set(3, finished);

    // Act
    const { repairs } = await system.healing.sweep();

    // Assess
    expect(repairs).toEqual({ slot_leak: 2 });
    expect(await system.store.heldSlots()).toEqual([{ slot: 1, jobId }]);
  });

  it('keeps a slot its job was granted again after going back to the queue, though every read showed it waiting', async () => {
    // Prepare: the job went back to the queue (the provider's key was full) and was granted the same slot again;
    // whatever the sweep reads of the job comes from the moment it was waiting, so only the write can tell.
    const system = domainSystem({ capacity: 1 });
    await system.store.seedUser('ana', 5);
    const { jobId } = await system.submit('ana');
    await system.queue.park(jobId, `wait-${jobId}`);
    await system.queue.yieldSlot(await system.job(jobId), { keyFull: false });
    const waiting = await system.store.liveJobs();
    await system.queue.grantNext();
    vi.spyOn(system.store, 'liveJobs').mockResolvedValue(waiting);
    vi.spyOn(system.store, 'getJob').mockImplementation(async (id) => waiting.find((job) => job.jobId === id) ?? null);

    // Act
    const { repairs } = await system.healing.sweep();

    // Assess
    expect(waiting.map((job) => job.status)).toEqual(['queued']);
    expect(repairs).toEqual({});
    expect(await system.store.heldSlots()).toEqual([{ slot: 1, jobId }]);
    expect(system.store.jobs.get(jobId)?.job).toMatchObject({ status: 'running', slot: 1 });
  });

  it('releases a slot held by a job that does not exist', async () => {
    // Prepare
    const system = domainSystem();
    system.store.slots.set(1, '00000000-0000-4000-8000-000000000999');

    // Act
    const { repairs } = await system.healing.sweep();

    // Assess
    expect(repairs).toEqual({ slot_leak: 1 });
    expect(await system.store.heldSlots()).toEqual([]);
  });

  it('releases a lock held for a finished or missing job, and keeps the lock of a live one', async () => {
    // Prepare
    const system = domainSystem();
    const { jobId } = await runningWithTask(system);
    await system.store.seedUser('bia', 5);
    const { jobId: finished } = await system.submit('bia');
    await system.lifecycle.cancel('bia', finished);
    system.store.users.get('bia')!.activeJobId = finished;
    await system.store.seedUser('caio', 5);
    system.store.users.get('caio')!.activeJobId = '00000000-0000-4000-8000-000000000999';

    // Act
    const { repairs } = await system.healing.sweep();

    // Assess
    expect(repairs).toEqual({ lock_leak: 2 });
    expect(await system.store.heldLocks()).toEqual([{ userId: 'ana', jobId }]);
  });

  it('changes nothing for healthy jobs, and reports the gauges', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1 });
    await runningWithTask(system, 'u1');
    system.clock.advance(30_000);
    await system.store.seedUser('u2', 5);
    const { jobId } = await system.submit('u2');
    await system.queue.park(jobId, 'wait');
    system.clock.advance(60_500);
    const before = structuredClone([...system.store.jobs.values()]);

    // Act
    const result = await system.healing.sweep();

    // Assess
    expect(result).toMatchObject({ repairs: {}, gauges: { queued: 1, running: 1, oldestQueuedSeconds: 61 } });
    expect([...system.store.jobs.values()]).toEqual(before);
  });

  it('reports no queued age on an empty queue', async () => {
    // Prepare
    const system = domainSystem();

    // Act
    const { gauges } = await system.healing.sweep();

    // Assess
    expect(gauges).toEqual({ queued: 0, running: 0, oldestQueuedSeconds: 0 });
  });
});

describe('lost admissions', () => {
  async function uploadedWithoutEvents(system: DomainSystem, slots = ['image'], tool = 'upscale-image') {
    await system.store.seedUser('ana', 5);
    return system.upload('ana', { tool, slots });
  }

  it('re-drives the admission of an upload whose events were lost, once its inputs are past the grace', async () => {
    // Prepare
    const system = domainSystem();
    const { jobId } = await uploadedWithoutEvents(system);

    // Act
    system.clock.advance(GRACE - 1);
    const early = await system.healing.sweep();
    system.clock.advance(1);
    const due = await system.healing.sweep();

    // Assess
    expect(early.repairs).toEqual({});
    expect(due.repairs).toMatchObject({ lost_admission: 1 });
    expect((await system.job(jobId)).status).not.toBe('failed');
    expect(await system.store.balance('ana')).toBe(4);
    expect(system.workflow.started).toEqual([jobId]);
  });

  it('admits with the last input when every input was recorded but the admission died', async () => {
    // Prepare
    const system = domainSystem();
    const { jobId, keys } = await uploadedWithoutEvents(system, ['person', 'pose'], 'pose-changer');
    await system.admission.onInputStored(keys[0] as string);
    vi.spyOn(system.store, 'admit').mockRejectedValueOnce(new Error('crash'));
    await expect(system.admission.onInputStored(keys[1] as string)).rejects.toThrow('crash');
    system.clock.advance(GRACE);
    const onInputStored = vi.spyOn(system.admission, 'onInputStored');

    // Act
    const { repairs } = await system.healing.sweep();

    // Assess
    expect(repairs).toMatchObject({ lost_admission: 1 });
    expect(onInputStored.mock.calls).toEqual([[keys[1]]]);
    expect((await system.job(jobId)).inputs.map((i) => i.slot)).toEqual(['person', 'pose']);
  });

  it('re-drives only the inputs admission has not recorded', async () => {
    // Prepare
    const system = domainSystem();
    const { jobId, keys } = await uploadedWithoutEvents(system, ['person', 'pose'], 'pose-changer');
    await system.admission.onInputStored(keys[0] as string);
    system.clock.advance(GRACE);
    const onInputStored = vi.spyOn(system.admission, 'onInputStored');

    // Act
    await system.healing.sweep();

    // Assess
    expect(onInputStored.mock.calls).toEqual([[keys[1]]]);
    expect(system.logs).toContainEqual({ message: 're-driving a lost admission', fields: { jobId, slots: ['pose'] } });
  });

  it('re-drives the first input when only the second was recorded', async () => {
    // Prepare
    const system = domainSystem();
    const { jobId, keys } = await uploadedWithoutEvents(system, ['person', 'pose'], 'pose-changer');
    await system.admission.onInputStored(keys[1] as string);
    system.clock.advance(GRACE);

    // Act
    const { repairs } = await system.healing.sweep();

    // Assess
    expect(repairs).toMatchObject({ lost_admission: 1 });
    expect((await system.job(jobId)).inputs.map((i) => i.slot)).toEqual(['person', 'pose']);
  });

  it('counts no lost admission when re-driving it admits nothing', async () => {
    // Prepare
    const system = domainSystem();
    const { keys } = await uploadedWithoutEvents(system);
    system.clock.advance(GRACE);
    vi.spyOn(system.files, 'copy').mockResolvedValue(false);

    // Act
    const { repairs } = await system.healing.sweep();

    // Assess
    expect(keys).toHaveLength(1);
    expect(repairs).toEqual({});
  });

  it('waits while an input is missing, and stops looking once the upload window has closed', async () => {
    // Prepare
    const system = domainSystem();
    const { jobId, keys } = await uploadedWithoutEvents(system);
    system.files.objects.delete(keys[0] as string);
    const expiresAt = Date.parse((await system.store.getIntent(jobId))?.expiresAt as string);

    // Act
    system.clock.advance(expiresAt - system.clock.now().getTime() + GRACE);
    await system.healing.sweep();
    const stillPending = (await system.store.pendingIntents()).length;
    system.clock.advance(1);
    await system.healing.sweep();

    // Assess
    expect(system.logs.map((l) => l.message)).not.toContain('re-driving a lost admission');
    expect(stillPending).toBe(1);
    expect(await system.store.pendingIntents()).toEqual([]);
    expect(await system.store.getJob(jobId)).toBeNull();
  });

  it('settles an upload whose job exists without admitting again', async () => {
    // Prepare
    const system = domainSystem();
    const { jobId } = await uploadedWithoutEvents(system);
    const uploaded = await system.store.getIntent(jobId);
    await system.admission.onInputStored(inputKey(jobId, 'image'));
    system.store.intents.get(jobId)!.pending = true;
    const onInputStored = vi.spyOn(system.admission, 'onInputStored');

    // Act
    const { repairs } = await system.healing.sweep();

    // Assess
    expect(uploaded).not.toBeNull();
    expect(repairs).not.toHaveProperty('lost_admission');
    expect(onInputStored).not.toHaveBeenCalled();
    expect(await system.store.pendingIntents()).toEqual([]);
  });

  it('keeps sweeping when one upload cannot be admitted now', async () => {
    // Prepare
    const system = domainSystem();
    const { jobId } = await uploadedWithoutEvents(system);
    system.clock.advance(GRACE);
    vi.spyOn(system.admission, 'onInputStored').mockRejectedValueOnce(new Error('throttled'));

    // Act
    const { repairs } = await system.healing.sweep();

    // Assess
    expect(repairs).not.toHaveProperty('lost_admission');
    expect(system.logs).toContainEqual({ message: 're-driving an admission failed', fields: { jobId, error: 'throttled' } });
  });
});

describe('onExecutionEnded', () => {
  it('heals the job of an execution that failed, timed out or was aborted', async () => {
    // Prepare
    const system = domainSystem();
    const { jobId, taskId } = await runningWithTask(system);

    // Act
    await system.healing.onExecutionEnded(jobId);

    // Assess
    expect((await system.job(jobId)).error?.code).toBe('HEALED');
    expect(system.provider.cancelled).toEqual([taskId]);
  });

  it('changes nothing for a job that is already final or does not exist', async () => {
    // Prepare
    const system = domainSystem();
    const { jobId } = await runningWithTask(system);
    await system.lifecycle.succeed(jobId, []);
    const before = await system.job(jobId);

    // Act
    await system.healing.onExecutionEnded(jobId);
    await system.healing.onExecutionEnded('00000000-0000-4000-8000-000000000999');

    // Assess
    expect(await system.job(jobId)).toEqual(before);
    expect(system.workflow.stopped).toEqual([]);
  });
});
