import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { waitingJob } from '../../bench/support';
import { DynamoStore } from '../../lambdas/adapters/dynamo-store';
import type { JobRecord } from '../../lambdas/domain/jobs';
import type { FinalChange } from '../../lambdas/domain/ports';
import { testStack } from '../support/emulator-stack';
import { assertInvariants, snapshot } from '../support/invariants';

// The position index on DynamoDB Local, driven through the store's own transactions: admission, grant, requeue and
// finalize, with jobs admitted in the same millisecond, the same second and across minute boundaries.
async function queueOnTable() {
  const stack = await testStack();
  const store = new DynamoStore(stack.doc, stack.config.tableName, 30);
  const ref = { doc: stack.doc, config: { tableName: stack.config.tableName } };

  async function admit(createdAt: string) {
    const userId = `pos-${randomUUID()}`;
    await store.grantCredits(userId, 5, 'operator');
    const job = waitingJob(userId, createdAt);
    expect(await store.admit(job)).toEqual({ outcome: 'admitted' });
    return job;
  }

  /** Every waiting job's position as the API reads it, in FIFO order. */
  async function positions(jobs: JobRecord[]) {
    const waiting = (await snapshot(ref)).queue.map((q) => q.jobId);
    return Promise.all(jobs.filter((j) => waiting.includes(j.jobId)).map(async (j) => [j.jobId, await store.queuePosition(j)] as const));
  }

  return { store, ref, admit, positions };
}

const fifo = (jobs: JobRecord[]) => [...jobs].sort((a, b) => `${a.createdAt}#${a.jobId}`.localeCompare(`${b.createdAt}#${b.jobId}`));

describe('queue positions from the position index', () => {
  it('gives every waiting job its exact rank across milliseconds, seconds and minutes', async () => {
    const { admit, positions, ref } = await queueOnTable();
    const times = [
      '2026-11-30T10:00:59.999Z',
      '2026-11-30T10:01:00.000Z',
      '2026-11-30T10:01:00.000Z',
      '2026-11-30T10:01:00.000Z',
      '2026-11-30T10:01:00.500Z',
      '2026-11-30T10:01:07.000Z',
      '2026-11-30T10:01:59.999Z',
      '2026-11-30T10:02:00.000Z',
      '2026-11-30T09:59:30.000Z',
      '2026-11-30T11:00:00.000Z',
    ];
    // Admitted out of order: the position follows the FIFO key, not the order the writes landed.
    const jobs = await Promise.all(times.map(admit));
    const ordered = fifo(jobs);
    expect(await positions(ordered)).toEqual(ordered.map((j, i) => [j.jobId, i + 1]));
    await assertInvariants(ref);
  });

  it('counts down exactly as jobs ahead are granted, cancelled from the middle or requeued at the head', async () => {
    const { store, admit, positions, ref } = await queueOnTable();
    const jobs = fifo(
      await Promise.all(
        ['12:00:01.000Z', '12:00:01.000Z', '12:00:02.000Z', '12:01:00.000Z', '12:01:00.001Z', '12:03:30.000Z'].map((t) =>
          admit(`2026-11-30T${t}`),
        ),
      ),
    );
    const [head, second, third, , fifth] = jobs as [JobRecord, JobRecord, JobRecord, JobRecord, JobRecord, JobRecord];
    const now = new Date().toISOString();

    expect(await store.grant(head, 1, now, now)).toBe(true);
    const cancelled: FinalChange = { status: 'cancelled', error: null, refund: true, outputs: [], completedAt: now };
    expect(await store.finalize(third, cancelled)).toBe(true);
    expect(await store.finalize(fifth, cancelled)).toBe(true);
    const waiting = jobs.filter((j) => ![head, third, fifth].includes(j));
    expect(await positions(waiting)).toEqual(waiting.map((j, i) => [j.jobId, i + 1]));
    expect((await store.counts()).queued).toBe(3);
    await assertInvariants(ref);

    // The granted head is refused by the provider and goes back in front of everyone.
    const running = (await store.getJob(head.jobId)) as JobRecord;
    expect(await store.requeue(running)).toBe(true);
    expect(await store.queuePosition(head)).toBe(1);
    expect(await store.queuePosition(second)).toBe(2);
    expect((await store.counts()).queued).toBe(4);
    await assertInvariants(ref);
  });

  it('lets thirty jobs of the same second leave the queue at once, and the counters they share read zero after', async () => {
    const { store, admit, ref } = await queueOnTable();
    const second = '2026-11-30T13:00:05';
    const jobs = await Promise.all(Array.from({ length: 30 }, (_, i) => admit(`${second}.${String(i).padStart(3, '0')}Z`)));
    const now = new Date().toISOString();
    const cancelled: FinalChange = { status: 'cancelled', error: null, refund: true, outputs: [], completedAt: now };

    // Every one of them writes the same minute and second counters, in its own transaction, at the same moment.
    const left = await Promise.all(jobs.map((job) => store.finalize(job, cancelled)));

    expect(left.filter((ok) => !ok)).toEqual([]);
    expect((await store.counts()).queued).toBe(0);
    await assertInvariants(ref);
  });

  it('prunes only counters that read zero, and positions stay exact after a prune', async () => {
    const { store, admit, ref } = await queueOnTable();
    const gone = await admit('2026-11-30T08:00:10.000Z');
    const stays = await admit('2026-11-30T08:05:10.000Z');
    const later = await admit('2026-11-30T08:05:11.000Z');
    const now = new Date().toISOString();
    expect(await store.finalize(gone, { status: 'cancelled', error: null, refund: true, outputs: [], completedAt: now })).toBe(true);

    // The 08:00 minute and its second read zero; the 08:05 ones still count two jobs.
    expect(await store.pruneQueueCounters(new Date('2026-11-30T09:00:00.000Z'))).toBe(2);
    const index = (await snapshot(ref)).positionIndex.map((i) => `${i.pk}|${i.sk}`);
    expect(index.some((key) => key.includes('08:00'))).toBe(false);
    expect(await store.queuePosition(stays)).toBe(1);
    expect(await store.queuePosition(later)).toBe(2);
    // Nothing left at zero: a second prune deletes nothing.
    expect(await store.pruneQueueCounters(new Date('2026-11-30T09:00:00.000Z'))).toBe(0);
    await assertInvariants(ref);
  });
});
