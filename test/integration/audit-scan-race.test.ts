import { randomUUID } from 'node:crypto';
import { type DynamoDBDocumentClient, PutCommand, ScanCommand, type ScanCommandOutput } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { waitingJob } from '../../bench/support';
import { DynamoStore } from '../../lambdas/adapters/dynamo-store';
import type { JobRecord } from '../../lambdas/domain/jobs';
import { audit } from '../../scripts/audit-report';
import { testStack } from '../support/emulator-stack';

/**
 * A table scan reads its pages at different moments. These tests make the audit's scan return what such a scan can
 * return (the job items as they were before a change, the slot or lock items as they are after it, both really read
 * from DynamoDB Local) and check the audit reads its suspects again instead of reporting a leak that never was.
 */
async function scanAcross(change: () => Promise<void>, fromBefore: (item: Record<string, unknown>) => boolean) {
  const stack = await testStack();
  const store = new DynamoStore(stack.doc, stack.config.tableName, 30);
  const doc = stack.doc;
  const scan = () => doc.send(new ScanCommand({ TableName: stack.config.tableName, ConsistentRead: true }));
  const torn = {
    async send(command: unknown) {
      if (!(command instanceof ScanCommand)) return doc.send(command as never);
      const before = await scan();
      await change();
      const after = await scan();
      const items = [...(before.Items ?? []).filter(fromBefore), ...(after.Items ?? []).filter((item) => !fromBefore(item))];
      return { Items: items } as ScanCommandOutput;
    },
  } as unknown as DynamoDBDocumentClient;
  return { stack, store, run: () => audit({ doc: torn, tableName: stack.config.tableName, graceMs: 120_000, capacity: 3 }) };
}

async function admitted(store: DynamoStore) {
  const userId = `audit-${randomUUID()}`;
  await store.grantCredits(userId, 5, 'operator');
  const job = waitingJob(userId, new Date().toISOString());
  expect(await store.admit(job)).toEqual({ outcome: 'admitted' });
  return job;
}

const isJob = (item: Record<string, unknown>) => item.sk === 'JOB';

describe('the audit under a scan torn by a concurrent change', () => {
  it('does not report a slot leak for a job granted between the pages', async () => {
    let job: JobRecord | undefined;
    const { store, run } = await scanAcross(async () => {
      const now = new Date().toISOString();
      expect(await store.grant(job as JobRecord, 1, now, now)).toBe(true);
    }, isJob);
    job = await admitted(store);

    const report = await run();

    expect(report.stragglers.filter((s) => s.kind === 'slot_leak')).toEqual([]);
    expect(await store.heldSlots()).toEqual([{ slot: 1, jobId: job.jobId }]);
  });

  it('does not report a lock leak for a job finalized between the pages', async () => {
    let job: JobRecord | undefined;
    const { store, run } = await scanAcross(
      async () => {
        const running = (await store.getJob((job as JobRecord).jobId)) as JobRecord;
        const change = { status: 'succeeded' as const, error: null, refund: false, outputs: [], completedAt: new Date().toISOString() };
        expect(await store.finalize(running, change)).toBe(true);
      },
      (item) => item.sk === 'PROFILE',
    );
    job = await admitted(store);
    const now = new Date().toISOString();
    expect(await store.grant(job, 2, now, now)).toBe(true);

    const report = await run();

    expect(report.stragglers.filter((s) => s.kind === 'lock_leak' || s.kind === 'slot_leak')).toEqual([]);
  });

  it('still reports a real leak, read again', async () => {
    const { stack, store, run } = await scanAcross(async () => {}, isJob);
    const job = await admitted(store);
    const cancelled = { status: 'cancelled' as const, error: null, refund: true, outputs: [], completedAt: new Date().toISOString() };
    expect(await store.finalize(job, cancelled)).toBe(true);
    await stack.doc.send(new PutCommand({ TableName: stack.config.tableName, Item: { pk: 'SLOT', sk: '003', jobId: job.jobId } }));

    const report = await run();

    expect(report.stragglers.filter((s) => s.kind === 'slot_leak').map((s) => s.jobId)).toEqual([job.jobId]);
  });
});
