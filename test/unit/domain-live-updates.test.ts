import { describe, expect, it } from 'vitest';
import { waitingJob } from '../../bench/support';
import type { JobRecord, JobStatus } from '../../lambdas/domain/jobs';
import { liveUpdates, NO_LIVE_UPDATES } from '../../lambdas/domain/live-updates';
import type { FileStore, JobStore } from '../../lambdas/domain/ports';
import { jobViews } from '../../lambdas/domain/views';
import { domainSystem } from '../support/domain-system';
import { MemoryLiveChannel } from '../support/memory-edge-ports';

const record = (jobId: string, status: JobStatus, outputs: JobRecord['outputs'] = []) =>
  waitingJob('ana', '2026-11-30T10:00:00.000Z', { jobId, status, outputs });

/** Live updates over a recording channel; a queued job is third in line. */
function live() {
  const channel = new MemoryLiveChannel();
  const presigned: string[] = [];
  const store = { queuePosition: async () => 3 } as unknown as JobStore;
  const files = { presignDownload: async (key: string) => `https://files.test/${presigned.push(key)}` } as unknown as FileStore;
  const logs: { message: string; fields: Record<string, unknown> }[] = [];
  const updates = liveUpdates({ channel, views: jobViews(store, files), log: (message, fields) => void logs.push({ message, fields }) });
  return { channel, presigned, logs, updates };
}

describe('live job updates', () => {
  it('sends the owner the job as the API shows it, with its position', async () => {
    // Prepare
    const { channel, updates } = live();

    // Act
    await updates.jobChanged(record('job-live-1', 'queued'));

    // Assess
    expect(channel.toUsers).toEqual([
      {
        userId: 'ana',
        event: {
          type: 'job',
          job: expect.objectContaining({ jobId: 'job-live-1', status: 'queued', position: 3, creditCost: 1, outputs: [] }),
        },
      },
    ]);
    expect(channel.broadcasts).toEqual([]);
  });

  it('sends the outputs’ type and size but never a download link', async () => {
    // Prepare
    const { channel, presigned, updates } = live();
    const outputs = [{ key: 'outputs/job-live-2/0', contentType: 'image/png', bytes: 42 }];

    // Act
    await updates.jobChanged(record('job-live-2', 'succeeded', outputs));

    // Assess
    const event = channel.toUsers[0]?.event;
    expect(event?.type === 'job' && event.job.outputs).toEqual([{ contentType: 'image/png', bytes: 42 }]);
    expect(event?.type === 'job' && event.job.position).toBeNull();
    expect(presigned).toEqual([]);
  });

  it('tells everyone which queue keys left and joined', async () => {
    // Prepare
    const { channel, updates } = live();
    const a = record('job-a', 'running');
    const b = record('job-b', 'queued');

    // Act
    await updates.queueMoved({ left: [a] });
    await updates.queueMoved({ joined: [b] });
    await updates.queueMoved({ left: [a], joined: [b] });

    // Assess
    expect(channel.broadcasts).toEqual([
      { type: 'queue', left: ['2026-11-30T10:00:00.000Z#job-a'], joined: [] },
      { type: 'queue', left: [], joined: ['2026-11-30T10:00:00.000Z#job-b'] },
      { type: 'queue', left: ['2026-11-30T10:00:00.000Z#job-a'], joined: ['2026-11-30T10:00:00.000Z#job-b'] },
    ]);
  });

  it('never throws when the channel fails: it logs what was not sent', async () => {
    // Prepare
    const { channel, logs, updates } = live();
    channel.failWith = new Error('GoneException');

    // Act
    await updates.jobChanged(record('job-live-3', 'running'));
    await updates.queueMoved({ left: [] });

    // Assess
    expect(logs).toEqual([
      { message: 'live update not sent', fields: { what: 'job', error: 'GoneException' } },
      { message: 'live update not sent', fields: { what: 'queue', error: 'GoneException' } },
    ]);
  });

  it('does nothing at all without a channel', async () => {
    // Act
    const answers = await Promise.all([NO_LIVE_UPDATES.jobChanged(record('job-none', 'queued')), NO_LIVE_UPDATES.queueMoved({})]);

    // Assess
    expect(answers).toEqual([undefined, undefined]);
  });
});

describe('live updates from the job path', () => {
  it('tells the owner their job is queued, then everyone that it left the queue when granted', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1 });
    await system.store.seedUser('ana', 5);

    // Act
    const { jobId } = await system.submit('ana');
    const queued = system.channel.toUsers.map((u) => u.event);
    await system.queue.grantNext();

    // Assess
    expect(queued).toEqual([{ type: 'job', job: expect.objectContaining({ jobId, status: 'queued', position: 1 }) }]);
    expect(system.channel.toUsers.at(-1)?.event).toEqual({ type: 'job', job: expect.objectContaining({ jobId, status: 'running' }) });
    expect(system.channel.broadcasts).toEqual([{ type: 'queue', left: [`2026-01-01T00:00:00.000Z#${jobId}`], joined: [] }]);
  });

  it('tells the owner of a job rejected at admission that it failed, and nobody else', async () => {
    // Prepare
    const system = domainSystem();
    await system.store.seedUser('ana', 1);
    const { jobId, keys } = await system.upload('ana');
    await system.store.setBalance('ana', 0);

    // Act
    await system.admission.onInputStored(keys[0] as string);

    // Assess
    expect(system.channel.toUsers).toEqual([
      {
        userId: 'ana',
        event: {
          type: 'job',
          job: expect.objectContaining({ jobId, status: 'failed', error: expect.objectContaining({ code: 'INSUFFICIENT_CREDITS' }) }),
        },
      },
    ]);
    expect(system.channel.broadcasts).toEqual([]);
  });

  it('tells the owner a waiting job was cancelled and refunded, and everyone that it left the queue', async () => {
    // Prepare
    const system = domainSystem({ capacity: 0 });
    await system.store.seedUser('ana', 5);
    const { jobId } = await system.submit('ana');

    // Act
    await system.lifecycle.cancel('ana', jobId);

    // Assess
    expect(system.channel.toUsers.at(-1)?.event).toEqual({
      type: 'job',
      job: expect.objectContaining({ jobId, status: 'cancelled', refunded: true, position: null }),
    });
    expect(system.channel.broadcasts).toEqual([{ type: 'queue', left: [`2026-01-01T00:00:00.000Z#${jobId}`], joined: [] }]);
  });

  it('tells the owner a running job was cancelled without refund, after the next job was granted', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1 });
    await system.store.seedUser('ana', 5);
    await system.store.seedUser('bia', 5);
    const { jobId } = await system.submit('ana');
    system.clock.advance(1);
    const { jobId: next } = await system.submit('bia');
    await system.queue.grantNext();
    system.channel.toUsers.length = 0;
    system.channel.broadcasts.length = 0;

    // Act
    await system.lifecycle.cancel('ana', jobId);

    // Assess
    expect(system.channel.toUsers.map(({ userId, event }) => [userId, event.type === 'job' && event.job.status])).toEqual([
      ['bia', 'running'],
      ['ana', 'cancelled'],
    ]);
    expect(system.channel.toUsers[1]?.event).toMatchObject({ job: { jobId, refunded: false } });
    expect(system.channel.broadcasts).toEqual([{ type: 'queue', left: [`2026-01-01T00:00:00.001Z#${next}`], joined: [] }]);
  });

  it('tells the owner and everyone when a granted job goes back to the queue', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1 });
    await system.store.seedUser('ana', 5);
    const { jobId } = await system.submit('ana');
    await system.queue.grantNext();
    system.channel.broadcasts.length = 0;

    // Act
    await system.queue.yieldSlot(await system.job(jobId), { keyFull: false });

    // Assess
    expect(system.channel.toUsers.at(-1)?.event).toEqual({
      type: 'job',
      job: expect.objectContaining({ jobId, status: 'queued', position: 1 }),
    });
    expect(system.channel.broadcasts).toEqual([{ type: 'queue', left: [], joined: [`2026-01-01T00:00:00.000Z#${jobId}`] }]);
  });

  it('tells nobody anything when a grant starts no job', async () => {
    // Prepare
    const system = domainSystem({ capacity: 0 });
    await system.store.seedUser('ana', 5);
    await system.submit('ana');
    system.channel.toUsers.length = 0;

    // Act
    await system.queue.grantNext();

    // Assess
    expect(system.channel.toUsers).toEqual([]);
    expect(system.channel.broadcasts).toEqual([]);
  });
});
