import { randomUUID } from 'node:crypto';
import { PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { waitingJob } from '../../bench/support';
import { DynamoStore } from '../../lambdas/adapters/dynamo-store';
import type { JobRecord } from '../../lambdas/domain/jobs';
import { testStack } from '../support/emulator-stack';
import { assertInvariants } from '../support/invariants';

// The sweeper's slot release on DynamoDB Local: it decides from reads that may be stale by the time it writes, so the
// write itself must check that the holder does not run in the slot.
async function slotsOnTable() {
  const stack = await testStack();
  const store = new DynamoStore(stack.doc, stack.config.tableName, 30);
  const ref = { doc: stack.doc, config: { tableName: stack.config.tableName } };
  const userId = `slot-${randomUUID()}`;
  await store.grantCredits(userId, 5, 'operator');
  const job = waitingJob(userId, new Date().toISOString());
  expect(await store.admit(job)).toEqual({ outcome: 'admitted' });
  const grant = async (slot: number) => {
    const now = new Date().toISOString();
    expect(await store.grant((await store.getJob(job.jobId)) as JobRecord, slot, now, now)).toBe(true);
  };
  return { stack, store, ref, job, grant };
}

describe("the sweeper's slot release", () => {
  it('keeps a slot its job holds again after going back to the queue, though the sweeper saw the earlier hold', async () => {
    const { store, ref, job, grant } = await slotsOnTable();
    await grant(3);
    const seen = await store.heldSlots();
    expect(await store.requeue((await store.getJob(job.jobId)) as JobRecord)).toBe(true);
    await grant(3);

    // Same slot, same job id as the sweeper read: only the job's own state tells the new hold from the old one.
    expect(seen).toEqual([{ slot: 3, jobId: job.jobId }]);
    expect(await store.releaseSlot(3, job.jobId)).toBe(false);
    expect(await store.heldSlots()).toEqual([{ slot: 3, jobId: job.jobId }]);
    await assertInvariants(ref);
  });

  it('releases a slot whose holder has ended, and one whose holder runs in another slot', async () => {
    const { stack, store, ref, job, grant } = await slotsOnTable();
    await grant(1);
    // Leaks as a crash between writes would leave them: slot items naming a job that does not run in them.
    for (const slot of [2, 3]) {
      await stack.doc.send(
        new PutCommand({ TableName: stack.config.tableName, Item: { pk: 'SLOT', sk: String(slot).padStart(3, '0'), jobId: job.jobId } }),
      );
    }
    const now = new Date().toISOString();
    expect(await store.releaseSlot(2, job.jobId)).toBe(true);
    expect(await store.releaseSlot(1, job.jobId)).toBe(false);
    const running = (await store.getJob(job.jobId)) as JobRecord;
    expect(await store.finalize(running, { status: 'succeeded', error: null, refund: false, outputs: [], completedAt: now })).toBe(true);
    expect(await store.releaseSlot(3, job.jobId)).toBe(true);
    expect(await store.releaseSlot(3, randomUUID())).toBe(false);
    expect(await store.heldSlots()).toEqual([]);
    await assertInvariants(ref);
  });
});
