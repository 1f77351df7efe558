import { describe, expect, it } from 'vitest';
import { JobFinished, ProviderBusy } from '../../lambdas/domain/errors';
import { type DomainSystem, domainSystem } from '../support/domain-system';

/** Admits one job per user, a second apart, and parks each execution on `wait-<user>`. */
async function queued(system: DomainSystem, users: string[]) {
  const ids: string[] = [];
  for (const user of users) {
    await system.store.seedUser(user, 5);
    const { jobId } = await system.submit(user);
    ids.push(jobId);
    await system.queue.park(jobId, `wait-${user}`);
    system.clock.advance(1000);
  }
  return ids;
}

const stageWakeUps = (system: DomainSystem) => system.workflow.resumed.filter((r) => (r.output as { stage?: boolean }).stage === true);

describe('staging ahead', () => {
  it('wakes the job next in line to stage its inputs once every slot is taken, and only that job, once', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1, stageAhead: true });

    // Act
    const [ana, bia, caio] = (await queued(system, ['ana', 'bia', 'caio'])) as [string, string, string];
    await system.queue.grantNext();

    // Assess
    expect(stageWakeUps(system)).toEqual([{ token: 'wait-bia', output: { stage: true } }]);
    expect((await system.job(ana)).status).toBe('running');
    expect((await system.job(bia)).stageRequestedAt).toBeDefined();
    expect((await system.job(caio)).stageRequestedAt).toBeUndefined();
  });

  it('wakes no job while a slot is free for it', async () => {
    // Prepare
    const system = domainSystem({ capacity: 2, stageAhead: true });

    // Act
    await queued(system, ['ana', 'bia']);

    // Assess
    expect(stageWakeUps(system)).toEqual([]);
    expect(system.workflow.resumed.map((r) => r.output)).toEqual([{ slot: 1 }, { slot: 2 }]);
  });

  it('stages the inputs once: the run creates the task on them without uploading again', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1, stageAhead: true, queueSeconds: 600 });
    const [ana, bia] = (await queued(system, ['ana', 'bia'])) as [string, string];
    system.clock.advance(8000);

    // Act
    const staged = await system.staging.stageAhead(bia);
    await system.queue.park(bia, 'wait-bia-2');
    await system.lifecycle.succeed(ana, []);
    await system.run(bia);

    // Assess: admitted 9 s ago, so 591 s of its queue timeout are left when it parks again; one upload in all.
    expect(staged).toEqual({ queueTimeoutSeconds: 591 });
    expect(system.provider.staged).toHaveLength(1);
    const job = await system.job(bia);
    expect(job.status).toBe('running');
    expect(system.workflow.resumed.at(-1)).toEqual({ token: 'wait-bia-2', output: { slot: 1 } });
    const task = system.provider.tasks.get(job.providerTaskId as string);
    expect(task?.request.files).toEqual({ image: 'api/1-image' });
    expect(job.providerFiles).toEqual({ image: 'api/1-image' });
  });

  it('wakes the next job in line as the queue moves', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1, stageAhead: true });
    const [ana, bia, caio] = (await queued(system, ['ana', 'bia', 'caio'])) as [string, string, string];
    await system.staging.stageAhead(bia);
    await system.queue.park(bia, 'wait-bia-2');

    // Act
    await system.lifecycle.succeed(ana, []);

    // Assess
    expect((await system.job(bia)).status).toBe('running');
    expect(stageWakeUps(system).map((r) => r.token)).toEqual(['wait-bia', 'wait-caio']);
    expect((await system.job(caio)).stageRequestedAt).toBeDefined();
  });

  it('runs a job granted while it stages once, on its staged inputs, with no queue timeout left to cut it short', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1, stageAhead: true, queueSeconds: 600 });
    const [ana, bia] = (await queued(system, ['ana', 'bia'])) as [string, string];
    system.clock.advance(700_000);

    // Act: the slot frees while bia's execution is in StageInputs (its wait token already used).
    await system.lifecycle.succeed(ana, []);
    const staged = await system.staging.stageAhead(bia);
    await system.queue.park(bia, 'wait-bia-2');
    await system.run(bia);

    // Assess
    expect(staged).toEqual({ queueTimeoutSeconds: 600 });
    expect(system.workflow.resumed.at(-1)).toEqual({ token: 'wait-bia-2', output: { slot: 1 } });
    expect(system.provider.staged).toHaveLength(1);
    expect((await system.job(bia)).providerTaskId).toBeDefined();
  });

  it('leaves a job the provider would not stage for waiting, and the run stages its inputs', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1, stageAhead: true });
    const [ana, bia] = (await queued(system, ['ana', 'bia'])) as [string, string];
    system.provider.stageErrors.push(new ProviderBusy('421: the key is busy'));

    // Act
    const staged = await system.staging.stageAhead(bia);
    await system.queue.park(bia, 'wait-bia-2');
    await system.lifecycle.succeed(ana, []);
    await system.run(bia);

    // Assess: not woken a second time; its run uploads the inputs.
    expect(staged.queueTimeoutSeconds).toBeGreaterThan(0);
    expect(stageWakeUps(system).map((r) => r.token)).toEqual(['wait-bia']);
    expect(system.provider.staged).toHaveLength(1);
    expect((await system.job(bia)).providerFiles).toEqual({ image: 'api/1-image' });
    expect(system.logs.map((entry) => entry.message)).toContain('staging ahead refused by the provider: the run stages the inputs');
  });

  it('keeps nothing ahead for inputs that go by URL: the run presigns them afresh', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1, stageAhead: true });
    const [, bia] = (await queued(system, ['ana', 'bia'])) as [string, string];
    system.provider.byUrl = true;

    // Act
    await system.staging.stageAhead(bia);

    // Assess
    expect((await system.job(bia)).providerFiles).toBeUndefined();
  });

  it('keeps nothing ahead when any one input goes by URL', async () => {
    // Prepare: a try-on whose garment is too big to upload.
    const system = domainSystem({ capacity: 1, stageAhead: true });
    await queued(system, ['ana']);
    await system.store.seedUser('bia', 5);
    const { jobId: bia } = await system.submit('bia', { tool: 'try-on', params: { category: 'top' }, slots: ['person', 'garment'] });
    await system.queue.park(bia, 'wait-bia');
    system.provider.byUrl = ['garment'];

    // Act
    await system.staging.stageAhead(bia);

    // Assess
    expect(system.provider.staged).toHaveLength(1);
    expect((await system.job(bia)).providerFiles).toBeUndefined();
    expect(system.logs.map((entry) => entry.message)).toContain('inputs go by URL: the run stages them');
  });

  it('uploads nothing again when StageInputs runs twice for one job (a Lambda retry)', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1, stageAhead: true });
    const [, bia] = (await queued(system, ['ana', 'bia'])) as [string, string];
    await system.staging.stageAhead(bia);

    // Act
    const again = await system.staging.stageAhead(bia);

    // Assess
    expect(again.queueTimeoutSeconds).toBeGreaterThan(0);
    expect(system.provider.staged).toHaveLength(1);
    expect((await system.job(bia)).providerFiles).toEqual({ image: 'api/1-image' });
  });

  it('lets an error that is not a provider refusal fail StageInputs (the state machine catches it) and leaves the job queued', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1, stageAhead: true });
    const [, bia] = (await queued(system, ['ana', 'bia'])) as [string, string];
    system.provider.stageErrors.push(new TypeError('a bug in the adapter'));

    // Act
    const staging = system.staging.stageAhead(bia);

    // Assess
    await expect(staging).rejects.toThrow('a bug in the adapter');
    const job = await system.job(bia);
    expect(job.status).toBe('queued');
    expect(job.providerFiles).toBeUndefined();
  });

  it('ends the staging of a job cancelled meanwhile with JobFinished', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1, stageAhead: true });
    const [, bia] = (await queued(system, ['ana', 'bia'])) as [string, string];
    await system.lifecycle.cancel('bia', bia);

    // Act
    const staging = system.staging.stageAhead(bia);

    // Assess
    await expect(staging).rejects.toBeInstanceOf(JobFinished);
    expect(system.provider.staged).toHaveLength(0);
  });

  it('wakes no job whose inputs are staged already, such as one a busy key sent back to the head', async () => {
    // Prepare: ana runs; the key answers 421 to her create, so she goes back to the head with her staged inputs.
    const system = domainSystem({ capacity: 1, stageAhead: true });
    const [ana] = (await queued(system, ['ana'])) as [string];
    system.provider.createErrors.push(new ProviderBusy('421: the key is full'));
    await system.run(ana);
    expect((await system.job(ana)).status).toBe('queued');

    // Act: her execution parks again while the key's answer holds the slot count down.
    await system.queue.park(ana, 'wait-ana-2');

    // Assess
    expect(stageWakeUps(system)).toEqual([]);
    expect((await system.job(ana)).providerFiles).toEqual({ image: 'api/1-image' });
  });
});
