import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'vitest';
import { DynamoStore } from '../../lambdas/adapters/dynamo-store';
import type { JobRecord } from '../../lambdas/domain/jobs';

/** Where to look: any document client and table. */
export interface TableRef {
  doc: DynamoDBDocumentClient;
  config: { tableName: string };
}

interface UserItem {
  pk: string;
  balance: number;
  granted: number;
  debited: number;
  refunded: number;
  activeJobId?: string;
  ledgerSeq?: number;
}

interface LedgerItem {
  pk: string;
  sk: string;
  at: string;
  delta: number;
  balance: number;
  reason: string;
  jobId?: string;
}

/** Reads the whole table: jobs, users and queue entries. Test tables are small. */
export async function snapshot(stack: TableRef) {
  const items: Record<string, unknown>[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await stack.doc.send(new ScanCommand({ TableName: stack.config.tableName, ConsistentRead: true, ExclusiveStartKey }));
    items.push(...(page.Items ?? []));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return {
    jobs: items.filter((i) => i.sk === 'JOB') as unknown as JobRecord[],
    users: items.filter((i) => i.sk === 'PROFILE') as unknown as UserItem[],
    queue: items.filter((i) => i.pk === 'QUEUE') as { sk: string; jobId: string }[],
    positionIndex: items.filter((i) => String(i.pk).startsWith('QUEUE#')) as { pk: string; sk: string; n?: number }[],
    slots: items.filter((i) => i.pk === 'SLOT') as { sk: string; jobId: string }[],
    ledger: (items.filter((i) => String(i.sk).startsWith('LEDGER#')) as unknown as LedgerItem[]).sort((a, b) => a.sk.localeCompare(b.sk)),
  };
}

/**
 * Invariants (docs/PRODUCT.md) 2, 5 and the queue's bookkeeping, checked against the table as it is now:
 * one active job per user, lock ⇔ active job, queued ⇔ queue entry, credits conserved and never negative.
 */
export async function assertInvariants(stack: TableRef) {
  const { jobs, users, queue, slots, ledger, positionIndex } = await snapshot(stack);
  for (const user of users) {
    const userId = user.pk.slice('USER#'.length);
    const mine = jobs.filter((j) => j.userId === userId);
    const active = mine.filter((j) => j.status === 'queued' || j.status === 'running');
    expect(active.length, `active jobs of ${userId}`).toBeLessThanOrEqual(1);
    expect(user.activeJobId ?? null, `lock of ${userId}`).toBe(active[0]?.jobId ?? null);

    const debits = mine.filter((j) => j.charged).reduce((sum, j) => sum + j.creditCost, 0);
    const refunds = mine.filter((j) => j.refunded).reduce((sum, j) => sum + j.creditCost, 0);
    expect(
      mine.filter((j) => j.refunded && !j.charged),
      'refund without debit',
    ).toEqual([]);
    expect(user.debited, `debits of ${userId}`).toBe(debits);
    expect(user.refunded, `refunds of ${userId}`).toBe(refunds);
    expect(user.balance, `balance of ${userId}`).toBe(user.granted - user.debited + user.refunded);
    expect(user.balance).toBeGreaterThanOrEqual(0);
    assertLedger(
      userId,
      user,
      mine,
      ledger.filter((e) => e.pk === user.pk),
    );
  }
  const queued = jobs
    .filter((j) => j.status === 'queued')
    .map((j) => j.jobId)
    .sort();
  expect(queue.map((q) => q.jobId).sort(), 'queue entries ⇔ queued jobs').toEqual(queued);
  await assertPositionIndex(stack, jobs, queue, positionIndex);
  const running = jobs.filter((j) => j.status === 'running');
  expect(slots.map((s) => s.jobId).sort(), 'slots ⇔ running jobs').toEqual(running.map((j) => j.jobId).sort());
  for (const job of running) {
    expect(slots.find((s) => s.jobId === job.jobId)?.sk, `slot of ${job.jobId}`).toBe(String(job.slot).padStart(3, '0'));
    expect(job.deadline, `deadline of ${job.jobId}`).toBeTruthy();
  }
  for (const job of jobs.filter((j) => j.status === 'failed' || j.status === 'cancelled' || j.status === 'succeeded')) {
    expect(job.completedAt, `completedAt of ${job.jobId}`).not.toBeNull();
  }
  return { jobs, users, queue, slots, ledger };
}

/**
 * The position index agrees with the queue: one entry per waiting job under its admission second, counters per
 * minute and second that count exactly those entries (a pruned counter reads as zero), and every waiting job's
 * position, as the API reads it, is its rank in the FIFO.
 */
async function assertPositionIndex(
  stack: TableRef,
  jobs: JobRecord[],
  queue: { sk: string; jobId: string }[],
  index: { pk: string; sk: string; n?: number }[],
) {
  const expected = new Map<string, number>();
  const bump = (key: string) => expected.set(key, (expected.get(key) ?? 0) + 1);
  for (const entry of queue) {
    bump(`QUEUE#MINUTE|${entry.sk.slice(0, 16)}`);
    bump(`QUEUE#SECOND#${entry.sk.slice(0, 16)}|${entry.sk.slice(17, 19)}`);
    bump(`QUEUE#AT#${entry.sk.slice(0, 19)}|${entry.sk}`);
  }
  const actual = new Map(index.filter((i) => i.n !== 0).map((i) => [`${i.pk}|${i.sk}`, i.n ?? 1]));
  expect(Object.fromEntries(actual), 'position index ⇔ queue entries').toEqual(Object.fromEntries(expected));
  const store = new DynamoStore(stack.doc, stack.config.tableName, 30);
  const fifo = [...queue].sort((a, b) => a.sk.localeCompare(b.sk));
  for (const [rank, entry] of fifo.entries()) {
    const job = jobs.find((j) => j.jobId === entry.jobId) as JobRecord;
    expect(await store.queuePosition(job), `position of ${entry.jobId}`).toBe(rank + 1);
  }
}

/**
 * The user's ledger explains the balance: entries numbered 1..ledgerSeq with no gap, each one's balance is the
 * previous plus its delta, their sum is the balance, and every charged job has exactly one debit (one refund if refunded).
 */
function assertLedger(userId: string, user: UserItem, jobs: JobRecord[], entries: LedgerItem[]) {
  expect(
    entries.map((e) => Number(e.sk.slice('LEDGER#'.length))),
    `ledger numbering of ${userId}`,
  ).toEqual(entries.map((_, i) => i + 1));
  expect(entries.length, `ledger length of ${userId}`).toBe(user.ledgerSeq ?? 0);
  let running = 0;
  for (const entry of entries) {
    running += entry.delta;
    expect(entry.balance, `ledger entry ${entry.sk} of ${userId}`).toBe(running);
  }
  expect(running, `balance of ${userId} = sum of its ledger`).toBe(user.balance);
  const of = (reason: string) => entries.filter((e) => e.reason === reason).map((e) => e.jobId);
  expect(of('debit').sort(), `debits of ${userId}`).toEqual(
    jobs
      .filter((j) => j.charged)
      .map((j) => j.jobId)
      .sort(),
  );
  expect(of('refund').sort(), `refunds of ${userId}`).toEqual(
    jobs
      .filter((j) => j.refunded)
      .map((j) => j.jobId)
      .sort(),
  );
  const grants = entries.filter((e) => !['debit', 'refund'].includes(e.reason)).reduce((sum, e) => sum + e.delta, 0);
  expect(grants, `grants of ${userId}`).toBe(user.granted);
}
