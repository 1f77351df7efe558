import { HeadObjectCommand } from '@aws-sdk/client-s3';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { expect } from 'vitest';
import { DynamoStore } from '../../lambdas/adapters/dynamo-store';
import { TOOLS } from '../../lambdas/domain/catalog';
import { isTerminal, type JobRecord } from '../../lambdas/domain/jobs';
import { type Lab, ms } from './fault-lab';

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

// ------------------------------------------------------------------------------------------------ the fault labs

const queueKey = (job: JobRecord) => `${job.createdAt}#${job.jobId}`;

/**
 * Invariants (docs/PRODUCT.md) 1–8 over the table as it is now, for the given users and jobs (all expected terminal),
 * plus "at every instant" checks reconstructed from the jobs' own timestamps. A job's createdAt/startedAt is taken
 * before the write that makes it active/running, which commits up to `lab.commitLagMs` later (SDK retries); its
 * completedAt is taken before the write that releases it. So a job surely held its lock (or slot) over
 * [createdAt (or startedAt) + lag, completedAt]; two such intervals of one user (or one slot) overlapping means the
 * invariant broke. A shorter overlap proves nothing: the later job's write may have committed after the release
 * (the sampler's consistent reads cover those instants).
 */
export async function checkInvariants(lab: Lab, scope: { userIds: string[]; jobIds: string[]; fifo?: boolean }) {
  const violations: string[] = [];
  const { jobs, users, queue, slots, ledger } = await snapshot({ doc: lab.stack.doc, config: lab.stack.config });
  const byId = new Map(jobs.map((j) => [j.jobId, j]));

  // 1, 7: every job terminal, nothing left holding a slot, a lock or a queue place.
  for (const jobId of scope.jobIds) {
    const job = byId.get(jobId);
    if (!job) violations.push(`inv1: job ${jobId} was never created (its upload finished)`);
    else if (!isTerminal(job.status)) violations.push(`inv1: job ${jobId} is still ${job.status}`);
    else if (!job.completedAt) violations.push(`inv7: job ${jobId} is ${job.status} without completedAt`);
  }
  for (const entry of queue) violations.push(`inv1: queue entry left for ${entry.jobId} (${byId.get(entry.jobId)?.status ?? 'missing'})`);
  for (const slot of slots)
    violations.push(`inv1: slot ${slot.sk} still held by ${slot.jobId} (${byId.get(slot.jobId)?.status ?? 'missing'})`);
  for (const user of users) if (user.activeJobId) violations.push(`inv2: ${user.pk} still locked by ${user.activeJobId}`);

  // 5: credits, per user.
  for (const userId of scope.userIds) {
    const user = users.find((u) => u.pk === `USER#${userId}`);
    if (!user) {
      violations.push(`inv5: no profile for ${userId}`);
      continue;
    }
    const mine = jobs.filter((j) => j.userId === userId);
    const debits = mine.filter((j) => j.charged).reduce((sum, j) => sum + j.creditCost, 0);
    const refunds = mine.filter((j) => j.refunded).reduce((sum, j) => sum + j.creditCost, 0);
    if (user.debited !== debits) violations.push(`inv5: ${userId} debited ${user.debited}, jobs account for ${debits}`);
    if (user.refunded !== refunds) violations.push(`inv5: ${userId} refunded ${user.refunded}, jobs account for ${refunds}`);
    if (user.balance !== user.granted - user.debited + user.refunded)
      violations.push(`inv5: ${userId} balance ${user.balance} ≠ grants − debits + refunds`);
    if (user.balance < 0) violations.push(`inv5: ${userId} balance is negative`);
    // The ledger explains the balance: one entry per change, each written with it (a lost reply or a retried
    // transaction never books a change twice, nor a change without its entry).
    const entries = ledger.filter((e) => e.pk === user.pk);
    const sum = entries.reduce((total, e) => total + e.delta, 0);
    if (sum !== user.balance) violations.push(`inv5: ${userId} balance ${user.balance} ≠ sum of its ledger ${sum}`);
    if (entries.length !== (user.ledgerSeq ?? 0))
      violations.push(`inv5: ${userId} has ${entries.length} ledger entries, seq ${user.ledgerSeq}`);
    for (const job of mine) {
      const booked = (reason: string) => entries.filter((e) => e.jobId === job.jobId && e.reason === reason).length;
      if (booked('debit') !== (job.charged ? 1 : 0)) violations.push(`inv5: ${job.jobId} has ${booked('debit')} debit entries`);
      if (booked('refund') !== (job.refunded ? 1 : 0)) violations.push(`inv5: ${job.jobId} has ${booked('refund')} refund entries`);
    }
    for (const job of mine) {
      if (job.refunded && !job.charged) violations.push(`inv5: ${job.jobId} refunded without a debit`);
      if (!isTerminal(job.status)) continue;
      // Who should have been refunded: every charged failure, a job cancelled while queued; never a success or a running cancel.
      const expected = job.charged && (job.status === 'failed' || (job.status === 'cancelled' && !job.startedAt));
      if (job.refunded !== expected)
        violations.push(`inv5: ${job.jobId} (${job.status}, ${job.error?.code ?? '-'}) refunded=${job.refunded}, expected ${expected}`);
    }
    // 2, at every instant: the admitted jobs of one user never overlap in time.
    const admitted = mine.filter((j) => j.charged).sort((a, b) => ms(a.createdAt) - ms(b.createdAt));
    for (let i = 1; i < admitted.length; i++) {
      const prev = admitted[i - 1] as JobRecord;
      const next = admitted[i] as JobRecord;
      if (!(ms(next.createdAt) + lab.commitLagMs >= ms(prev.completedAt))) {
        violations.push(`inv2: ${userId} had ${prev.jobId} and ${next.jobId} active at once`);
      }
    }
  }

  // 3, at every instant: one job per slot at a time, and never more than MAX_RUNNING running.
  const ran = jobs.filter((j) => j.startedAt);
  const bySlot = new Map<number, JobRecord[]>();
  for (const job of ran) bySlot.set(job.slot ?? -1, [...(bySlot.get(job.slot ?? -1) ?? []), job]);
  for (const [slot, held] of bySlot) {
    if (slot < 1 || slot > lab.maxRunning) violations.push(`inv3: ${held.length} job(s) ran in slot ${slot}`);
    held.sort((a, b) => ms(a.startedAt) - ms(b.startedAt));
    for (let i = 1; i < held.length; i++) {
      const prev = held[i - 1] as JobRecord;
      const next = held[i] as JobRecord;
      const prevEnd = isTerminal(prev.status) ? ms(prev.completedAt) : Number.POSITIVE_INFINITY;
      if (ms(next.startedAt) + lab.commitLagMs < prevEnd)
        violations.push(
          `inv3: slot ${slot} held by ${prev.jobId} (${prev.startedAt} → ${prev.completedAt ?? prev.status}) and ${next.jobId} (${next.startedAt} → ${next.completedAt ?? next.status}) at once`,
        );
    }
  }
  const edges = ran.flatMap((j) => [
    { at: ms(j.startedAt) + lab.commitLagMs, d: 1 },
    { at: isTerminal(j.status) ? ms(j.completedAt) : Number.POSITIVE_INFINITY, d: -1 },
  ]);
  edges.sort((a, b) => a.at - b.at || a.d - b.d);
  let running = 0;
  for (const edge of edges) {
    running += edge.d;
    if (running > lab.maxRunning) {
      violations.push(`inv3: ${running} jobs running at ${new Date(edge.at).toISOString()}`);
      break;
    }
  }

  // 4: FIFO among the scenario's jobs that started: none overtook a job enqueued clearly (> 250 ms) before it.
  if (scope.fifo) {
    const started = scope.jobIds.map((id) => byId.get(id)).filter((j): j is JobRecord => !!j?.startedAt);
    for (const a of started) {
      for (const b of started) {
        if (queueKey(a) < queueKey(b) && ms(b.createdAt) - ms(a.createdAt) > 250 && ms(b.startedAt) < ms(a.startedAt)) {
          violations.push(`inv4: ${b.jobId} started before ${a.jobId}, enqueued ${ms(b.createdAt) - ms(a.createdAt)} ms earlier`);
        }
      }
    }
  }

  // 6: upload first — every job holds every input of its tool, and the objects are in S3.
  for (const jobId of scope.jobIds) {
    const job = byId.get(jobId);
    if (!job) continue;
    const slotsWanted = Object.keys(TOOLS[job.tool].slots).sort();
    const have = job.inputs.map((i) => i.slot).sort();
    if (JSON.stringify(have) !== JSON.stringify(slotsWanted)) violations.push(`inv6: ${jobId} has inputs ${have} for ${slotsWanted}`);
    for (const input of job.inputs) {
      const head = await lab.s3.send(new HeadObjectCommand({ Bucket: lab.stack.bucketName, Key: input.key })).catch(() => null);
      if (!head) violations.push(`inv6: ${jobId}'s input ${input.key} is not in S3`);
    }
  }

  // 8: one job per upload, at most one debit and refund (the credit totals above), no job created twice.
  const ids = jobs.map((j) => j.jobId);
  if (new Set(ids).size !== ids.length) violations.push('inv8: a job id appears twice');
  return { violations, jobs: scope.jobIds.map((id) => byId.get(id)).filter((j): j is JobRecord => !!j) };
}
