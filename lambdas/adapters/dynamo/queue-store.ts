import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { JobRecord } from '../../domain/jobs';
import type { FinalChange, QueueStore } from '../../domain/ports';
import { ledgerPut, readUser, seqCondition, seqValues } from './credit-ledger';
import {
  CAPACITY_KEY,
  jobKey,
  minuteOf,
  QUEUE,
  QUEUE_MINUTES,
  queueAtOf,
  queueKeyOf,
  queueSecondsOf,
  queueSecondsPartition,
  SLOT,
  slotKey,
  userKey,
} from './keys';
import { backoff, CONFLICT_RETRIES, lostToConflict, type Table, type TransactItems } from './table';

/** Zero counters older than this are pruned by the sweep; younger ones may still be written by a late requeue. */
const COUNTER_PRUNE_AGE_MS = 5 * 60_000;

const sumCounts = (items: Record<string, unknown>[]) => items.reduce((sum, item) => sum + Number(item.n ?? 0), 0);

/**
 * A waiting job's entries, written (enter) or removed (leave) with the transaction that changes its status: the
 * FIFO entry, its entry under its admission second, and the two counters its position is summed from.
 */
export function queueWrites(table: Table, job: Pick<JobRecord, 'createdAt' | 'jobId'>, change: 'enter' | 'leave') {
  const { jobId, createdAt } = job;
  const sk = queueKeyOf(job);
  const entries = [
    { pk: QUEUE, sk },
    { pk: queueAtOf(createdAt), sk },
  ];
  const count = (Key: { pk: string; sk: string }) => ({
    Update: {
      TableName: table.name,
      Key,
      UpdateExpression: 'ADD n :delta',
      ExpressionAttributeValues: { ':delta': change === 'enter' ? 1 : -1 },
    },
  });
  return [
    ...entries.map((Key) =>
      change === 'enter' ? { Put: { TableName: table.name, Item: { ...Key, jobId } } } : { Delete: { TableName: table.name, Key } },
    ),
    count({ pk: QUEUE_MINUTES, sk: minuteOf(createdAt) }),
    count(queueSecondsOf(createdAt)),
  ];
}

/**
 * The exact 1-based position from the position index, never from the queue itself: the waiting jobs of earlier
 * minutes, plus those of earlier seconds of this minute, plus those of this second up to this job. Three small
 * queries whatever the queue's length (a minute holds at most 60 second counters; the sweep prunes zero minutes).
 */
export async function queuePosition(table: Table, job: JobRecord) {
  const minute = minuteOf(job.createdAt);
  const seconds = queueSecondsOf(job.createdAt);
  const mine = queueKeyOf(job);
  const [minutes, earlierSeconds, sameSecond] = await Promise.all([
    table.queryPages({
      KeyConditionExpression: 'pk = :pk AND sk <= :minute',
      ExpressionAttributeValues: { ':pk': QUEUE_MINUTES, ':minute': minute },
    }),
    table.queryPages({
      KeyConditionExpression: 'pk = :pk AND sk < :ss',
      ExpressionAttributeValues: { ':pk': seconds.pk, ':ss': seconds.sk },
    }),
    table.queryPages({
      KeyConditionExpression: 'pk = :pk AND sk <= :mine',
      ExpressionAttributeValues: { ':pk': queueAtOf(job.createdAt), ':mine': mine },
    }),
  ]);
  if (!sameSecond.some((item) => item.sk === mine)) return null;
  const before = minutes.filter((item) => item.sk !== minute);
  return sumCounts(before) + sumCounts(earlierSeconds) + sameSecond.length;
}

export class DynamoQueueStore implements QueueStore {
  constructor(private readonly table: Table) {}

  async freeSlots(capacity: number) {
    const held = new Set((await this.firstPage(SLOT, ':slot')).map((item) => Number(item.sk)));
    return Array.from({ length: capacity }, (_, i) => i + 1).filter((slot) => !held.has(slot));
  }

  async queueHeads(limit: number) {
    return (await this.firstPage(QUEUE, ':queue', limit)).map((item) => item.jobId as string);
  }

  /** One consistent page of a partition; `placeholder` names its value in the request. */
  private async firstPage(pk: string, placeholder: string, limit?: number) {
    const { Items = [] } = await this.table.doc.send(
      new QueryCommand({
        TableName: this.table.name,
        KeyConditionExpression: `pk = ${placeholder}`,
        ExpressionAttributeValues: { [placeholder]: pk },
        ConsistentRead: true,
        ...(limit === undefined ? {} : { Limit: limit }),
      }),
    );
    return Items;
  }

  async grant(job: JobRecord, slot: number, startedAt: string, deadline: string) {
    const { jobId } = job;
    return this.table.transact([
      { Put: { TableName: this.table.name, Item: { ...slotKey(slot), jobId }, ConditionExpression: 'attribute_not_exists(pk)' } },
      {
        Update: {
          TableName: this.table.name,
          Key: jobKey(jobId),
          UpdateExpression: 'SET #status = :running, startedAt = :startedAt, slot = :slot, deadline = :deadline',
          ConditionExpression: '#status = :queued',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: {
            ':running': 'running',
            ':queued': 'queued',
            ':startedAt': startedAt,
            ':slot': slot,
            ':deadline': deadline,
          },
        },
      },
      ...queueWrites(this.table, job, 'leave'),
    ]);
  }

  async requeue(job: JobRecord) {
    const { jobId } = job;
    if (job.status !== 'running' || job.slot === undefined) return false;
    return this.table.transact([
      {
        // Back in the queue under its admission key, so it is the head again; the staged inputs stay.
        Update: {
          TableName: this.table.name,
          Key: jobKey(jobId),
          UpdateExpression: 'SET #status = :queued REMOVE startedAt, slot, deadline, waitToken, runToken, creatingAt, callbackSecretHash',
          ConditionExpression: '#status = :running AND slot = :slot AND attribute_not_exists(providerTaskId)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':queued': 'queued', ':running': 'running', ':slot': job.slot },
        },
      },
      {
        Delete: {
          TableName: this.table.name,
          Key: slotKey(job.slot),
          ConditionExpression: 'jobId = :job',
          ExpressionAttributeValues: { ':job': jobId },
        },
      },
      ...queueWrites(this.table, job, 'enter'),
    ]);
  }

  async providerCapacity() {
    const Item = await this.table.get(CAPACITY_KEY);
    return Item ? { limit: Item.limit as number, until: Item.until as string } : null;
  }

  async noteProviderCapacity(limit: number, until: string) {
    await this.table.doc.send(new PutCommand({ TableName: this.table.name, Item: { ...CAPACITY_KEY, limit, until } }));
  }

  async recordToken(jobId: string, status: 'queued' | 'running', token: string, extra: Record<string, unknown> = {}) {
    const fields = { [status === 'queued' ? 'waitToken' : 'runToken']: token, ...extra };
    const names = Object.keys(fields);
    return this.table.conditional(
      new UpdateCommand({
        TableName: this.table.name,
        Key: jobKey(jobId),
        UpdateExpression: `SET ${names.map((_, i) => `#f${i} = :f${i}`).join(', ')}`,
        ConditionExpression: '#status = :status',
        ExpressionAttributeNames: { '#status': 'status', ...Object.fromEntries(names.map((n, i) => [`#f${i}`, n])) },
        ExpressionAttributeValues: { ':status': status, ...Object.fromEntries(names.map((n, i) => [`:f${i}`, fields[n]])) },
      }),
    );
  }

  async requestStaging(jobId: string, token: string, at: string) {
    return this.table.conditional(
      new UpdateCommand({
        TableName: this.table.name,
        Key: jobKey(jobId),
        UpdateExpression: 'SET stageRequestedAt = :at',
        ConditionExpression:
          '#status = :queued AND waitToken = :token AND attribute_not_exists(providerFiles) AND attribute_not_exists(stageRequestedAt)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':queued': 'queued', ':token': token, ':at': at },
      }),
    );
  }

  async recordStagedInputs(jobId: string, files: Record<string, string>) {
    return this.table.conditional(
      new UpdateCommand({
        TableName: this.table.name,
        Key: jobKey(jobId),
        UpdateExpression: 'SET providerFiles = :files',
        ConditionExpression: '#status IN (:queued, :running) AND attribute_not_exists(providerFiles)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':queued': 'queued', ':running': 'running', ':files': files },
      }),
    );
  }

  async noteTaskCancelled(jobId: string, at: string) {
    return this.updateRunning(jobId, 'SET providerCancelledAt = :value', at);
  }

  async adoptTask(jobId: string, taskId: string) {
    return this.updateRunning(jobId, 'SET providerTaskId = :value REMOVE creatingAt', taskId, 'attribute_not_exists(providerTaskId)');
  }

  /** One update of a job that must still be running (and meet `also`); false when it is not. */
  private updateRunning(jobId: string, update: string, value: string, also?: string) {
    return this.table.conditional(
      new UpdateCommand({
        TableName: this.table.name,
        Key: jobKey(jobId),
        UpdateExpression: update,
        ConditionExpression: also ? `#status = :running AND ${also}` : '#status = :running',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':running': 'running', ':value': value },
      }),
    );
  }

  // Finalize spans job, lock, ledger, slot and queue index, but it is the queue's exit: it lives with grant and requeue.
  async finalize(job: JobRecord, change: FinalChange) {
    const refund = change.refund && job.charged && !job.refunded ? job.creditCost : 0;
    for (let attempt = 0; ; attempt++) {
      // A refund is a ledger entry too: it needs the balance it leaves, so the user is read first.
      const user = refund > 0 ? await readUser(this.table, job.userId) : undefined;
      const seq = (user?.ledgerSeq ?? 0) + 1;
      const items: TransactItems = [
        {
          Update: {
            TableName: this.table.name,
            Key: jobKey(job.jobId),
            UpdateExpression:
              'SET #status = :status, #error = :error, outputs = :outputs, completedAt = :completedAt, refunded = :refunded, #ttl = :ttl REMOVE waitToken, runToken, livePk, liveSk',
            ConditionExpression: '#status = :seen',
            ExpressionAttributeNames: { '#status': 'status', '#error': 'error', '#ttl': 'ttl' },
            ExpressionAttributeValues: {
              ':status': change.status,
              ':error': change.error,
              ':outputs': change.outputs,
              ':completedAt': change.completedAt,
              ':refunded': job.refunded || refund > 0,
              ':ttl': this.table.expiry(),
              ':seen': job.status,
            },
          },
        },
        {
          // The lock may already be gone (healed); it must never be someone else's.
          Update: {
            TableName: this.table.name,
            Key: userKey(job.userId),
            UpdateExpression:
              refund > 0
                ? 'REMOVE activeJobId, livePk, liveSk SET balance = balance + :refund, refunded = refunded + :refund, ledgerSeq = :seq'
                : 'REMOVE activeJobId, livePk, liveSk',
            ConditionExpression:
              refund > 0
                ? `(attribute_not_exists(activeJobId) OR activeJobId = :job) AND ${seqCondition(seq)}`
                : 'attribute_not_exists(activeJobId) OR activeJobId = :job',
            ExpressionAttributeValues: { ':job': job.jobId, ...(refund > 0 ? { ':refund': refund, ...seqValues(seq) } : {}) },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
      ];
      if (refund > 0) {
        items.push(
          ledgerPut(this.table, job.userId, seq, {
            at: change.completedAt,
            delta: refund,
            balance: (user?.balance ?? 0) + refund,
            reason: 'refund',
            jobId: job.jobId,
          }),
        );
      }
      if (job.status === 'queued') items.push(...queueWrites(this.table, job, 'leave'));
      if (job.status === 'running' && job.slot !== undefined) {
        items.push({
          Delete: {
            TableName: this.table.name,
            Key: slotKey(job.slot),
            ConditionExpression: 'attribute_not_exists(pk) OR jobId = :job',
            ExpressionAttributeValues: { ':job': job.jobId },
          },
        });
      }
      try {
        await this.table.doc.send(new TransactWriteCommand({ TransactItems: items }));
        return true;
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const [jobReason, userReason] = error.CancellationReasons ?? [];
        const holder = userReason?.Item ? unmarshall(userReason.Item).activeJobId : undefined;
        // Only a balance that moved under a refund is worth another read; anything else is the caller's news.
        const balanceMoved =
          refund > 0 && jobReason?.Code === 'None' && userReason?.Code === 'ConditionalCheckFailed' && (!holder || holder === job.jobId);
        if (!(balanceMoved || lostToConflict(error)) || attempt >= CONFLICT_RETRIES) return false;
        if (!balanceMoved) await backoff(attempt);
      }
    }
  }

  async counts() {
    const [slots, minutes] = await Promise.all([
      this.table.queryPages({ KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': SLOT } }),
      this.table.queryPages({ KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': QUEUE_MINUTES } }),
    ]);
    return { running: slots.length, queued: sumCounts(minutes) };
  }

  /**
   * Deletes the position index's counters that reached zero minutes ago (on the condition that they still read
   * zero), so a position reads only the minutes that still have someone waiting. Returns how many it deleted.
   */
  async pruneQueueCounters(now: Date) {
    const cutoff = minuteOf(new Date(now.getTime() - COUNTER_PRUNE_AGE_MS).toISOString());
    const zero = (pk: string, below?: string) =>
      this.table.queryPages({
        KeyConditionExpression: below === undefined ? 'pk = :pk' : 'pk = :pk AND sk < :below',
        FilterExpression: 'n = :zero',
        ExpressionAttributeValues: { ':pk': pk, ':zero': 0, ...(below === undefined ? {} : { ':below': below }) },
      });
    let pruned = 0;
    const prune = async (pk: string, sk: string) => {
      const deleted = await this.table.conditional(
        new DeleteCommand({
          TableName: this.table.name,
          Key: { pk, sk },
          ConditionExpression: 'n = :zero',
          ExpressionAttributeValues: { ':zero': 0 },
        }),
      );
      if (deleted) pruned++;
    };
    for (const minute of await zero(QUEUE_MINUTES, cutoff)) {
      const seconds = queueSecondsPartition(minute.sk as string);
      for (const second of await zero(seconds)) await prune(seconds, second.sk as string);
      await prune(QUEUE_MINUTES, minute.sk as string);
    }
    return pruned;
  }
}
