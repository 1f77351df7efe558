import { describe, expect, it, vi } from 'vitest';
import type { PostUpload } from '../../lambdas/domain/admission';
import { ActiveJob, InsufficientCredits, InvalidRequest } from '../../lambdas/domain/errors';
import { inputKey } from '../../lambdas/domain/jobs';
import { domainSystem, png } from '../support/domain-system';

describe('requestUpload', () => {
  it('issues presigned uploads for every slot and keeps the intent server-side', async () => {
    // Prepare
    const system = domainSystem();
    await system.store.seedUser('ana', 5);

    // Act
    const answer = await system.admission.requestUpload('ana', {
      tool: 'pose-changer',
      files: [
        { slot: 'person', contentType: 'image/png', size: 10 },
        { slot: 'pose', contentType: 'image/jpeg', size: 20 },
      ],
    });

    // Assess
    expect(answer.uploads[1]).toEqual({
      slot: 'pose',
      url: 'memory://bucket',
      fields: { key: inputKey(answer.jobId, 'pose'), 'Content-Type': 'image/jpeg', size: '20', expires: '900' },
    });
    // The intent outlives the upload window by a day, so late S3 events still find it.
    expect(system.store.intents.get(answer.jobId)?.ttl).toBe(Date.parse(answer.expiresAt) / 1000 + 86_400);
    expect((answer.uploads as PostUpload[]).map((u) => [u.slot, u.fields.key])).toEqual([
      ['person', inputKey(answer.jobId, 'person')],
      ['pose', inputKey(answer.jobId, 'pose')],
    ]);
    expect(answer.expiresAt).toBe('2026-01-01T00:15:00.000Z');
    const intent = await system.store.getIntent(answer.jobId);
    expect(intent).toMatchObject({ userId: 'ana', tool: 'pose-changer', creditCost: 2, expiresAt: answer.expiresAt });
    expect(intent?.files.pose).toEqual({ key: inputKey(answer.jobId, 'pose'), contentType: 'image/jpeg', size: 20 });
    expect(await system.store.getJob(answer.jobId)).toBeNull();
  });

  it('gives a new user the sign-up credits once', async () => {
    // Prepare
    const system = domainSystem({ signupCredits: 3 });

    // Act
    await system.admission.requestUpload('new', { tool: 'upscale-image', files: [{ slot: 'image', contentType: 'image/png', size: 1 }] });
    await system.admission.requestUpload('new', { tool: 'upscale-image', files: [{ slot: 'image', contentType: 'image/png', size: 1 }] });

    // Assess
    expect(await system.store.balance('new')).toBe(3);
    expect((await system.store.ledger('new', 10)).entries.map((e) => e.reason)).toEqual(['signup']);
  });

  it('refuses a user whose balance is below the price, naming both', async () => {
    // Prepare
    const system = domainSystem();
    await system.store.seedUser('ana', 1);

    // Act
    const request = system.admission.requestUpload('ana', {
      tool: 'upscale-image',
      params: { scale: 4 },
      files: [{ slot: 'image', contentType: 'image/png', size: 1 }],
    });

    // Assess
    await expect(request).rejects.toBeInstanceOf(InsufficientCredits);
    await expect(request).rejects.toMatchObject({ details: { balance: 1, cost: 2 } });
    expect(system.store.intents.size).toBe(0);
  });

  it('accepts a balance exactly equal to the price', async () => {
    // Prepare
    const system = domainSystem();
    await system.store.seedUser('ana', 2);

    // Act
    const answer = await system.admission.requestUpload('ana', {
      tool: 'upscale-image',
      params: { scale: 4 },
      files: [{ slot: 'image', contentType: 'image/png', size: 1 }],
    });

    // Assess
    expect(answer.jobId).toBeTruthy();
  });

  it('refuses a user with a live job, showing that job', async () => {
    // Prepare
    const system = domainSystem();
    await system.store.seedUser('ana', 5);
    const { jobId } = await system.submit('ana');

    // Act
    const request = system.upload('ana');

    // Assess
    await expect(request).rejects.toBeInstanceOf(ActiveJob);
    await expect(request).rejects.toMatchObject({ details: { activeJob: { jobId, status: 'queued', position: 1 } } });
  });

  it('accepts a user whose lock points at a finished job', async () => {
    // Prepare
    const system = domainSystem();
    await system.store.seedUser('ana', 5);
    const { jobId } = await system.submit('ana');
    await system.lifecycle.cancel('ana', jobId);
    system.store.users.get('ana')!.activeJobId = jobId;

    // Act
    const next = await system.upload('ana');

    // Assess
    expect(next.jobId).not.toBe(jobId);
  });

  it('refuses a malformed request before reading anything', async () => {
    // Prepare
    const system = domainSystem();

    // Act
    const request = system.admission.requestUpload('ana', { tool: 'nope', files: [] });

    // Assess
    await expect(request).rejects.toBeInstanceOf(InvalidRequest);
    expect(system.store.users.size).toBe(0);
  });
});

describe('onInputStored', () => {
  it('admits the job once every input is stored: queued, charged, locked and started', async () => {
    // Prepare
    const system = domainSystem();
    await system.store.seedUser('ana', 5);
    const { jobId, keys } = await system.upload('ana', { tool: 'pose-changer', slots: ['person', 'pose'] });

    // Act
    const first = await system.admission.onInputStored(keys[0] as string);
    const second = await system.admission.onInputStored(keys[1] as string);

    // Assess
    expect([first, second]).toEqual(['waiting', 'admitted']);
    const job = await system.job(jobId);
    expect(job).toMatchObject({ status: 'queued', charged: true, refunded: false, creditCost: 2, userId: 'ana', tool: 'pose-changer' });
    expect(job.limits).toEqual({ queueSeconds: 600, runSeconds: 300 });
    expect(job.inputs.map((i) => i.slot)).toEqual(['person', 'pose']);
    expect(job.inputs.every((i) => i.key.startsWith(`admitted/${jobId}/`) && i.bytes === png().length)).toBe(true);
    expect(await system.store.balance('ana')).toBe(3);
    expect(await system.store.activeJobId('ana')).toBe(jobId);
    expect(await system.store.queuePosition(job)).toBe(1);
    expect(system.workflow.started).toEqual([jobId]);
    expect(await system.store.pendingIntents()).toEqual([]);
  });

  it('inspects a copy of the upload, so a later upload to the same key cannot reach the job', async () => {
    // Prepare
    const system = domainSystem();
    await system.store.seedUser('ana', 5);
    const { jobId, keys } = await system.upload('ana');

    // Act
    await system.admission.onInputStored(keys[0] as string);
    system.files.put(keys[0] as string, new TextEncoder().encode('replaced'));

    // Assess
    const [input] = (await system.job(jobId)).inputs;
    expect(input?.key).not.toBe(keys[0]);
    expect(system.files.objects.get(input?.key as string)?.bytes).toEqual(png());
  });

  it('creates a job failed with INSUFFICIENT_CREDITS, uncharged, when the balance fell during the upload', async () => {
    // Prepare
    const system = domainSystem();
    await system.store.seedUser('ana', 1);
    const { jobId, keys } = await system.upload('ana');
    await system.store.setBalance('ana', 0);

    // Act
    const outcome = await system.admission.onInputStored(keys[0] as string);

    // Assess
    expect(outcome).toBe('rejected');
    const job = await system.job(jobId);
    expect(job).toMatchObject({ status: 'failed', charged: false, refunded: false, completedAt: job.createdAt });
    expect(job.error).toEqual({
      code: 'INSUFFICIENT_CREDITS',
      message: 'This job costs 1 credits and your balance was too low when the upload finished.',
    });
    expect(job.inputs).toHaveLength(1);
    expect(await system.store.balance('ana')).toBe(0);
    expect(await system.store.activeJobId('ana')).toBeNull();
    expect(system.workflow.started).toEqual([]);
    expect(await system.store.pendingIntents()).toEqual([]);
  });

  it('creates a job failed with USER_BUSY when another upload of the same user was admitted first', async () => {
    // Prepare
    const system = domainSystem();
    await system.store.seedUser('ana', 5);
    const first = await system.upload('ana');
    const second = await system.upload('ana');
    await system.admission.onInputStored(first.keys[0] as string);

    // Act
    const outcome = await system.admission.onInputStored(second.keys[0] as string);

    // Assess
    expect(outcome).toBe('rejected');
    expect((await system.job(second.jobId)).error).toEqual({
      code: 'USER_BUSY',
      message: 'You already had a job in progress when this upload finished.',
    });
    expect(await system.store.balance('ana')).toBe(4);
    expect(await system.store.activeJobId('ana')).toBe(first.jobId);
    expect(system.workflow.started).toEqual([first.jobId]);
  });

  it('creates a job failed with INVALID_INPUT, uncharged, when the bytes are not what was declared', async () => {
    // Prepare
    const system = domainSystem();
    await system.store.seedUser('ana', 5);
    const { jobId, keys } = await system.upload('ana');
    system.files.put(keys[0] as string, new Uint8Array(png().length).fill(65));

    // Act
    const outcome = await system.admission.onInputStored(keys[0] as string);

    // Assess
    expect(outcome).toBe('rejected');
    const job = await system.job(jobId);
    expect(job).toMatchObject({ status: 'failed', charged: false, inputs: [] });
    expect(job.error?.code).toBe('INVALID_INPUT');
    expect(job.error?.message).toMatch(/not a image\/png file/);
    expect(await system.store.balance('ana')).toBe(5);
    expect(await system.store.activeJobId('ana')).toBeNull();
  });

  it('ignores a duplicate event after admission: no second job, no second debit', async () => {
    // Prepare
    const system = domainSystem();
    await system.store.seedUser('ana', 5);
    const { jobId, keys } = await system.submit('ana');

    // Act
    const again = await system.admission.onInputStored(keys[0] as string);

    // Assess
    expect(again).toBe('duplicate');
    expect(await system.store.balance('ana')).toBe(4);
    expect((await system.store.ledger('ana', 10)).entries.filter((e) => e.reason === 'debit')).toHaveLength(1);
    // Starting again is idempotent (same execution name), and covers a crash between admit and start.
    expect(system.workflow.started).toEqual([jobId, jobId]);
  });

  it('does not restart the driver of a finished job on a late duplicate event', async () => {
    // Prepare
    const system = domainSystem();
    await system.store.seedUser('ana', 5);
    const { jobId, keys } = await system.submit('ana');
    await system.lifecycle.cancel('ana', jobId);

    // Act
    const again = await system.admission.onInputStored(keys[0] as string);

    // Assess
    expect(again).toBe('duplicate');
    expect(system.workflow.started).toEqual([jobId]);
  });

  it('answers duplicate when a concurrent event admitted the same job first', async () => {
    // Prepare
    const system = domainSystem();
    await system.store.seedUser('ana', 5);
    const { keys } = await system.upload('ana');
    await system.admission.onInputStored(keys[0] as string);
    vi.spyOn(system.store, 'getJob').mockResolvedValueOnce(null);

    // Act
    const outcome = await system.admission.onInputStored(keys[0] as string);

    // Assess
    expect(outcome).toBe('duplicate');
    expect(await system.store.balance('ana')).toBe(4);
    // The owner heard of the job once, from the event that admitted it.
    expect(system.channel.toUsers).toHaveLength(1);
  });

  it('answers duplicate when a concurrent event rejected the same job first', async () => {
    // Prepare
    const system = domainSystem();
    await system.store.seedUser('ana', 1);
    const { jobId, keys } = await system.upload('ana');
    await system.store.setBalance('ana', 0);
    await system.admission.onInputStored(keys[0] as string);
    vi.spyOn(system.store, 'getJob').mockResolvedValueOnce(null);

    // Act
    const outcome = await system.admission.onInputStored(keys[0] as string);

    // Assess
    expect(outcome).toBe('duplicate');
    expect((await system.job(jobId)).status).toBe('failed');
  });

  it('ignores objects that belong to no issued upload', async () => {
    // Prepare
    const system = domainSystem();
    await system.store.seedUser('ana', 5);
    const { jobId } = await system.upload('ana');
    const stranger = '00000000-0000-4000-8000-999999999999';

    // Act
    const outcomes = [
      await system.admission.onInputStored('uploads/whatever.png'),
      await system.admission.onInputStored(inputKey(stranger, 'image')),
      await system.admission.onInputStored(inputKey(jobId, 'video')),
    ];

    // Assess
    expect(outcomes).toEqual(['ignored', 'ignored', 'ignored']);
    expect(system.logs).toEqual([
      { message: 'object does not belong to an issued upload', fields: { key: 'uploads/whatever.png' } },
      { message: 'object does not belong to an issued upload', fields: { key: inputKey(stranger, 'image') } },
      { message: 'object does not belong to an issued upload', fields: { key: inputKey(jobId, 'video') } },
    ]);
    expect(await system.store.getJob(jobId)).toBeNull();
  });

  it('ignores an event whose object is already gone', async () => {
    // Prepare
    const system = domainSystem();
    await system.store.seedUser('ana', 5);
    const { jobId, keys } = await system.upload('ana');
    system.files.objects.delete(keys[0] as string);

    // Act
    const outcome = await system.admission.onInputStored(keys[0] as string);

    // Assess
    expect(outcome).toBe('ignored');
    expect(await system.store.getJob(jobId)).toBeNull();
  });

  it('ignores an event whose copy vanished before inspection', async () => {
    // Prepare
    const system = domainSystem();
    await system.store.seedUser('ana', 5);
    const { jobId, keys } = await system.upload('ana');
    vi.spyOn(system.files, 'inspect').mockResolvedValueOnce(null);

    // Act
    const outcome = await system.admission.onInputStored(keys[0] as string);

    // Assess
    expect(outcome).toBe('ignored');
    expect(await system.store.getJob(jobId)).toBeNull();
  });
});
