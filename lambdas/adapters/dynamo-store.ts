import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { InvalidRequest } from '../domain/errors';
import { isJobId, type JobRecord, type StoredInput, type UploadIntent } from '../domain/jobs';
import type {
  Account,
  AdmitResult,
  CreditLedger,
  FinalChange,
  JobStore,
  LedgerEntry,
  LedgerReason,
  LiveStore,
  QueueStore,
} from '../domain/ports';

/**
 * Single-table layout:
 *   USER#<id>  / PROFILE     balance, granted, debited, refunded, ledgerSeq, signedUp, activeJobId (the one-active-job lock)
 *   USER#<id>  / LEDGER#<n>  one entry per balance change (n = ledgerSeq after it, zero-padded: newest sorts last),
 *                            written in the same transaction as the change
 *   JOB#<id>   / INTENT      what POST /uploads promised, plus the inputs stored so far (TTL); in the `live`
 *                            index (partition INTENT) until its job exists, so the sweeper finds lost admissions
 *   JOB#<id>   / JOB         the job; gsi1 = (USER#<id>, createdAt#jobId) lists a user's jobs
 *   QUEUE      / <queueKey>  one entry per waiting job, sorted FIFO
 *   QUEUE#MINUTE          / <YYYY-MM-DDTHH:MM>  { n }: waiting jobs admitted in that minute  ┐ the position index,
 *   QUEUE#SECOND#<minute> / <SS>                { n }: waiting jobs admitted in that second  │ written in the same
 *   QUEUE#AT#<second>     / <queueKey>          one entry per waiting job admitted then      ┘ transactions as QUEUE
 *   SLOT       / <nnn>       one item per held slot: { jobId }
 *   PROVIDER   / CAPACITY    what the provider key can run for Ghostless after a 421/415: { limit, until }
 */
const userKey = (userId: string) => ({ pk: `USER#${userId}`, sk: 'PROFILE' });
const intentKey = (jobId: string) => ({ pk: `JOB#${jobId}`, sk: 'INTENT' });
const jobKey = (jobId: string) => ({ pk: `JOB#${jobId}`, sk: 'JOB' });
const QUEUE = 'QUEUE';
const SLOT = 'SLOT';
/** Partitions of the sparse `live` index: non-terminal jobs, and users holding the lock. */
const LIVE_JOB = 'JOB';
const LIVE_LOCK = 'LOCK';
const CAPACITY_KEY = { pk: 'PROVIDER', sk: 'CAPACITY' };
const LIVE_INTENT = 'INTENT';
const LEDGER = 'LEDGER#';
const ledgerKey = (userId: string, seq: number) => ({ pk: `USER#${userId}`, sk: `${LEDGER}${String(seq).padStart(12, '0')}` });
const slotKey = (slot: number) => ({ pk: SLOT, sk: String(slot).padStart(3, '0') });
/** Admission order: time first, job id breaks ties, so the order is total. */
export const queueKeyOf = (job: Pick<JobRecord, 'createdAt' | 'jobId'>) => `${job.createdAt}#${job.jobId}`;
/** createdAt is ISO-8601 (`2026-11-30T04:05:19.459Z`): its minute, its second within the minute, and its whole second. */
const minuteOf = (createdAt: string) => createdAt.slice(0, 16);
const secondOf = (createdAt: string) => createdAt.slice(0, 19);
const QUEUE_MINUTES = 'QUEUE#MINUTE';
const queueSecondsOf = (createdAt: string) => ({ pk: `QUEUE#SECOND#${minuteOf(createdAt)}`, sk: createdAt.slice(17, 19) });
const queueAtOf = (createdAt: string) => `QUEUE#AT#${secondOf(createdAt)}`;
/** Zero counters older than this are pruned by the sweep; younger ones may still be written by a late requeue. */
const COUNTER_PRUNE_AGE_MS = 5 * 60_000;

const CONFLICT_RETRIES = 5;

export class DynamoStore implements JobStore, CreditLedger, QueueStore, LiveStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly retentionDays: number,
  ) {}

  async putIntent(intent: UploadIntent, expiresAtEpoch: number) {
    const live = { livePk: LIVE_INTENT, liveSk: `${intent.expiresAt}#${intent.jobId}` };
    await this.doc.send(
      new PutCommand({ TableName: this.table, Item: { ...intentKey(intent.jobId), ...intent, stored: {}, ttl: expiresAtEpoch, ...live } }),
    );
  }

  /** Uploads still waiting for their job (oldest upload window first), with the slots admission has recorded. */
  async pendingIntents() {
    return (await this.queryAll('live', 'livePk', LIVE_INTENT)).map((item) => ({
      intent: strip(item) as unknown as UploadIntent,
      storedSlots: Object.keys((item.stored ?? {}) as Record<string, unknown>),
    }));
  }

  /** Takes an intent out of the `live` index: its job exists, or its upload window closed with inputs missing. */
  async settleIntent(jobId: string) {
    return this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: intentKey(jobId),
        UpdateExpression: 'REMOVE livePk, liveSk',
        ConditionExpression: 'attribute_exists(pk)',
      }),
    );
  }

  async getIntent(jobId: string) {
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.table, Key: intentKey(jobId), ConsistentRead: true }));
    return Item ? (strip(Item) as unknown as UploadIntent) : null;
  }

  async markInputStored(jobId: string, input: StoredInput) {
    const { Attributes } = await this.doc.send(
      new UpdateCommand({
        TableName: this.table,
        Key: intentKey(jobId),
        UpdateExpression: 'SET #stored.#slot = :input',
        ExpressionAttributeNames: { '#stored': 'stored', '#slot': input.slot },
        ExpressionAttributeValues: { ':input': input },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return Object.values((Attributes?.stored ?? {}) as Record<string, StoredInput>);
  }

  async admit(job: JobRecord): Promise<AdmitResult> {
    for (let attempt = 0; ; attempt++) {
      const user = await this.user(job.userId);
      const seq = (user?.ledgerSeq ?? 0) + 1;
      const entry = this.ledgerEntry(job.userId, seq, {
        at: job.createdAt,
        delta: -job.creditCost,
        balance: (user?.balance ?? 0) - job.creditCost,
        reason: 'debit',
        jobId: job.jobId,
      });
      try {
        await this.doc.send(
          new TransactWriteCommand({
            TransactItems: [
              { Put: { TableName: this.table, Item: this.jobItem(job), ConditionExpression: 'attribute_not_exists(pk)' } },
              {
                Update: {
                  TableName: this.table,
                  Key: userKey(job.userId),
                  UpdateExpression:
                    'SET activeJobId = :job, balance = balance - :cost, debited = debited + :cost, ledgerSeq = :seq, livePk = :lock, liveSk = :job',
                  // The ledger sequence is the balance's version: the entry's `balance` is exactly what this write leaves.
                  ConditionExpression: `attribute_not_exists(activeJobId) AND balance >= :cost AND ${seqCondition(seq)}`,
                  ExpressionAttributeValues: { ':job': job.jobId, ':cost': job.creditCost, ':lock': LIVE_LOCK, ...seqValues(seq) },
                  ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
                },
              },
              ...this.queueWrites(job, 'enter'),
              entry,
              { Update: { TableName: this.table, Key: intentKey(job.jobId), UpdateExpression: 'REMOVE livePk, liveSk' } },
            ],
          }),
        );
        return { outcome: 'admitted' };
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const [jobReason, userReason] = error.CancellationReasons ?? [];
        if (jobReason?.Code === 'ConditionalCheckFailed') return { outcome: 'duplicate' };
        if (userReason?.Code === 'ConditionalCheckFailed') {
          const now = userReason.Item ? unmarshall(userReason.Item) : {};
          if (now.activeJobId) return { outcome: 'rejected', code: 'USER_BUSY' };
          if (!(Number(now.balance) >= job.creditCost)) return { outcome: 'rejected', code: 'INSUFFICIENT_CREDITS' };
          // Otherwise another change to the balance landed since the read: read again.
        }
        // TransactionConflict: another writer touched the same items; the conditions decide on retry.
        if (attempt >= CONFLICT_RETRIES) throw error;
        await sleep(10 * 2 ** attempt * Math.random());
      }
    }
  }

  async putRejected(job: JobRecord) {
    return this.transact([
      { Put: { TableName: this.table, Item: this.jobItem(job), ConditionExpression: 'attribute_not_exists(pk)' } },
      { Update: { TableName: this.table, Key: intentKey(job.jobId), UpdateExpression: 'REMOVE livePk, liveSk' } },
    ]);
  }

  async getJob(jobId: string) {
    // Ids arrive from paths and webhooks: a malformed one is the caller's mistake, not a key DynamoDB should see.
    if (!isJobId(jobId)) throw new InvalidRequest('The job id is not one this API issued.');
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.table, Key: jobKey(jobId), ConsistentRead: true }));
    return Item ? (strip(Item) as unknown as JobRecord) : null;
  }

  async listJobs(userId: string, limit: number, cursor?: string) {
    const { Items = [], LastEvaluatedKey } = await this.doc.send(
      new QueryCommand({
        TableName: this.table,
        IndexName: 'byUser',
        KeyConditionExpression: 'gsi1pk = :user',
        ExpressionAttributeValues: { ':user': `USER#${userId}` },
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: cursor === undefined ? undefined : decodeCursor(cursor, `USER#${userId}`),
      }),
    );
    return {
      jobs: Items.map((item) => strip(item) as unknown as JobRecord),
      nextCursor: LastEvaluatedKey ? Buffer.from(JSON.stringify(LastEvaluatedKey)).toString('base64url') : null,
    };
  }

  /**
   * The exact 1-based position from the position index, never from the queue itself: the waiting jobs of earlier
   * minutes, plus those of earlier seconds of this minute, plus those of this second up to this job. Three small
   * queries whatever the queue's length (a minute holds at most 60 second counters; the sweep prunes zero minutes).
   */
  async queuePosition(job: JobRecord) {
    const minute = minuteOf(job.createdAt);
    const seconds = queueSecondsOf(job.createdAt);
    const mine = queueKeyOf(job);
    const [minutes, earlierSeconds, sameSecond] = await Promise.all([
      this.queryPages({
        KeyConditionExpression: 'pk = :pk AND sk <= :minute',
        ExpressionAttributeValues: { ':pk': QUEUE_MINUTES, ':minute': minute },
      }),
      this.queryPages({
        KeyConditionExpression: 'pk = :pk AND sk < :ss',
        ExpressionAttributeValues: { ':pk': seconds.pk, ':ss': seconds.sk },
      }),
      this.queryPages({
        KeyConditionExpression: 'pk = :pk AND sk <= :mine',
        ExpressionAttributeValues: { ':pk': queueAtOf(job.createdAt), ':mine': mine },
      }),
    ]);
    if (!sameSecond.some((item) => item.sk === mine)) return null;
    const before = minutes.filter((item) => item.sk !== minute);
    return sumCounts(before) + sumCounts(earlierSeconds) + sameSecond.length;
  }

  async freeSlots(capacity: number) {
    const { Items = [] } = await this.doc.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :slot',
        ExpressionAttributeValues: { ':slot': SLOT },
        ConsistentRead: true,
      }),
    );
    const held = new Set(Items.map((item) => Number(item.sk)));
    return Array.from({ length: capacity }, (_, i) => i + 1).filter((slot) => !held.has(slot));
  }

  async queueHeads(limit: number) {
    const { Items = [] } = await this.doc.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :queue',
        ExpressionAttributeValues: { ':queue': QUEUE },
        ConsistentRead: true,
        Limit: limit,
      }),
    );
    return Items.map((item) => item.jobId as string);
  }

  async grant(job: JobRecord, slot: number, startedAt: string, deadline: string) {
    const { jobId } = job;
    return this.transact([
      { Put: { TableName: this.table, Item: { ...slotKey(slot), jobId }, ConditionExpression: 'attribute_not_exists(pk)' } },
      {
        Update: {
          TableName: this.table,
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
      ...this.queueWrites(job, 'leave'),
    ]);
  }

  async requeue(job: JobRecord) {
    const { jobId } = job;
    if (job.status !== 'running' || job.slot === undefined) return false;
    return this.transact([
      {
        // Back in the queue under its admission key, so it is the head again; the staged inputs stay.
        Update: {
          TableName: this.table,
          Key: jobKey(jobId),
          UpdateExpression: 'SET #status = :queued REMOVE startedAt, slot, deadline, waitToken, runToken, creatingAt, callbackSecretHash',
          ConditionExpression: '#status = :running AND slot = :slot AND attribute_not_exists(providerTaskId)',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':queued': 'queued', ':running': 'running', ':slot': job.slot },
        },
      },
      {
        Delete: {
          TableName: this.table,
          Key: slotKey(job.slot),
          ConditionExpression: 'jobId = :job',
          ExpressionAttributeValues: { ':job': jobId },
        },
      },
      ...this.queueWrites(job, 'enter'),
    ]);
  }

  async providerCapacity() {
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.table, Key: CAPACITY_KEY, ConsistentRead: true }));
    return Item ? { limit: Item.limit as number, until: Item.until as string } : null;
  }

  async noteProviderCapacity(limit: number, until: string) {
    await this.doc.send(new PutCommand({ TableName: this.table, Item: { ...CAPACITY_KEY, limit, until } }));
  }

  async recordToken(jobId: string, status: 'queued' | 'running', token: string, extra: Record<string, unknown> = {}) {
    const fields = { [status === 'queued' ? 'waitToken' : 'runToken']: token, ...extra };
    const names = Object.keys(fields);
    return this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: jobKey(jobId),
        UpdateExpression: `SET ${names.map((_, i) => `#f${i} = :f${i}`).join(', ')}`,
        ConditionExpression: '#status = :status',
        ExpressionAttributeNames: { '#status': 'status', ...Object.fromEntries(names.map((n, i) => [`#f${i}`, n])) },
        ExpressionAttributeValues: { ':status': status, ...Object.fromEntries(names.map((n, i) => [`:f${i}`, fields[n]])) },
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
    return this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: jobKey(jobId),
        UpdateExpression: update,
        ConditionExpression: also ? `#status = :running AND ${also}` : '#status = :running',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':running': 'running', ':value': value },
      }),
    );
  }

  async finalize(job: JobRecord, change: FinalChange) {
    const refund = change.refund && job.charged && !job.refunded ? job.creditCost : 0;
    for (let attempt = 0; ; attempt++) {
      // A refund is a ledger entry too: it needs the balance it leaves, so the user is read first.
      const user = refund > 0 ? await this.user(job.userId) : undefined;
      const seq = (user?.ledgerSeq ?? 0) + 1;
      const items: NonNullable<TransactWriteCommandInput['TransactItems']> = [
        {
          Update: {
            TableName: this.table,
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
              ':ttl': this.expiry(),
              ':seen': job.status,
            },
          },
        },
        {
          // The lock may already be gone (healed); it must never be someone else's.
          Update: {
            TableName: this.table,
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
          this.ledgerEntry(job.userId, seq, {
            at: change.completedAt,
            delta: refund,
            balance: (user?.balance ?? 0) + refund,
            reason: 'refund',
            jobId: job.jobId,
          }),
        );
      }
      if (job.status === 'queued') items.push(...this.queueWrites(job, 'leave'));
      if (job.status === 'running' && job.slot !== undefined) {
        items.push({
          Delete: {
            TableName: this.table,
            Key: slotKey(job.slot),
            ConditionExpression: 'attribute_not_exists(pk) OR jobId = :job',
            ExpressionAttributeValues: { ':job': job.jobId },
          },
        });
      }
      try {
        await this.doc.send(new TransactWriteCommand({ TransactItems: items }));
        return true;
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const [jobReason, userReason] = error.CancellationReasons ?? [];
        const holder = userReason?.Item ? unmarshall(userReason.Item).activeJobId : undefined;
        // Only a balance that moved under a refund is worth another read; anything else is the caller's news.
        const balanceMoved =
          refund > 0 && jobReason?.Code === 'None' && userReason?.Code === 'ConditionalCheckFailed' && (!holder || holder === job.jobId);
        if (!balanceMoved || attempt >= CONFLICT_RETRIES) return false;
      }
    }
  }

  async counts() {
    const [slots, minutes] = await Promise.all([
      this.queryPages({ KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': SLOT } }),
      this.queryPages({ KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': QUEUE_MINUTES } }),
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
      this.queryPages({
        KeyConditionExpression: below === undefined ? 'pk = :pk' : 'pk = :pk AND sk < :below',
        FilterExpression: 'n = :zero',
        ExpressionAttributeValues: { ':pk': pk, ':zero': 0, ...(below === undefined ? {} : { ':below': below }) },
      });
    let pruned = 0;
    const prune = async (pk: string, sk: string) => {
      const deleted = await this.conditional(
        new DeleteCommand({
          TableName: this.table,
          Key: { pk, sk },
          ConditionExpression: 'n = :zero',
          ExpressionAttributeValues: { ':zero': 0 },
        }),
      );
      if (deleted) pruned++;
    };
    for (const minute of await zero(QUEUE_MINUTES, cutoff)) {
      const seconds = `QUEUE#SECOND#${minute.sk as string}`;
      for (const second of await zero(seconds)) await prune(seconds, second.sk as string);
      await prune(QUEUE_MINUTES, minute.sk as string);
    }
    return pruned;
  }

  async liveJobs() {
    return (await this.queryAll('live', 'livePk', LIVE_JOB)).map((item) => strip(item) as unknown as JobRecord);
  }

  async heldLocks() {
    return (await this.queryAll('live', 'livePk', LIVE_LOCK)).map((item) => ({
      userId: (item.pk as string).slice('USER#'.length),
      jobId: item.activeJobId as string,
    }));
  }

  async heldSlots() {
    return (await this.queryAll(undefined, 'pk', SLOT)).map((item) => ({ slot: Number(item.sk), jobId: item.jobId as string }));
  }

  async releaseSlot(slot: number, jobId: string) {
    // The job's side is checked in the same transaction: a job sent back to the queue and granted this slot again
    // between the sweeper's read and this write holds it anew (same slot, same job id), and must keep it.
    return this.transact([
      {
        Delete: {
          TableName: this.table,
          Key: slotKey(slot),
          ConditionExpression: 'jobId = :job',
          ExpressionAttributeValues: { ':job': jobId },
        },
      },
      {
        ConditionCheck: {
          TableName: this.table,
          Key: jobKey(jobId),
          ConditionExpression: 'attribute_not_exists(pk) OR #status <> :running OR slot <> :slot',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':running': 'running', ':slot': slot },
        },
      },
    ]);
  }

  async releaseLock(userId: string, jobId: string) {
    return this.conditional(
      new UpdateCommand({
        TableName: this.table,
        Key: userKey(userId),
        UpdateExpression: 'REMOVE activeJobId, livePk, liveSk',
        ConditionExpression: 'activeJobId = :job',
        ExpressionAttributeValues: { ':job': jobId },
      }),
    );
  }

  /**
   * A waiting job's entries, written (enter) or removed (leave) with the transaction that changes its status: the
   * FIFO entry, its entry under its admission second, and the two counters its position is summed from.
   */
  private queueWrites(job: Pick<JobRecord, 'createdAt' | 'jobId'>, change: 'enter' | 'leave') {
    const { jobId, createdAt } = job;
    const sk = queueKeyOf(job);
    const entries = [
      { pk: QUEUE, sk },
      { pk: queueAtOf(createdAt), sk },
    ];
    const count = (Key: { pk: string; sk: string }) => ({
      Update: {
        TableName: this.table,
        Key,
        UpdateExpression: 'ADD n :delta',
        ExpressionAttributeValues: { ':delta': change === 'enter' ? 1 : -1 },
      },
    });
    return [
      ...entries.map((Key) =>
        change === 'enter' ? { Put: { TableName: this.table, Item: { ...Key, jobId } } } : { Delete: { TableName: this.table, Key } },
      ),
      count({ pk: QUEUE_MINUTES, sk: minuteOf(createdAt) }),
      count(queueSecondsOf(createdAt)),
    ];
  }

  /** Every page of a consistent query on the table itself. */
  private async queryPages(input: Pick<QueryCommandInput, 'KeyConditionExpression' | 'ExpressionAttributeValues' | 'FilterExpression'>) {
    const items: Record<string, unknown>[] = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(new QueryCommand({ TableName: this.table, ConsistentRead: true, ExclusiveStartKey, ...input }));
      items.push(...(page.Items ?? []));
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return items;
  }

  private async queryAll(index: string | undefined, keyName: string, value: string) {
    const items: Record<string, unknown>[] = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: index,
          KeyConditionExpression: '#k = :v',
          ExpressionAttributeNames: { '#k': keyName },
          ExpressionAttributeValues: { ':v': value },
          ConsistentRead: index === undefined,
          ExclusiveStartKey,
        }),
      );
      items.push(...(page.Items ?? []));
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return items;
  }

  private async conditional(command: DeleteCommand | UpdateCommand | PutCommand) {
    try {
      await this.doc.send(command as UpdateCommand);
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** Runs a transaction whose conditions encode "nothing changed since I read it"; false when one failed. */
  private async transact(TransactItems: NonNullable<TransactWriteCommandInput['TransactItems']>) {
    try {
      await this.doc.send(new TransactWriteCommand({ TransactItems }));
      return true;
    } catch (error) {
      if (error instanceof TransactionCanceledException) return false;
      throw error;
    }
  }

  private expiry() {
    return Math.floor(Date.now() / 1000) + this.retentionDays * 86_400;
  }

  async balance(userId: string) {
    return (await this.user(userId))?.balance ?? 0;
  }

  async activeJobId(userId: string) {
    return (await this.user(userId))?.activeJobId ?? null;
  }

  async account(userId: string): Promise<Account | null> {
    const user = await this.user(userId);
    return user ? { balance: user.balance ?? 0, signedUp: user.signedUp === true } : null;
  }

  /**
   * Adds `amount` (≥ 0) and books it as a grant entry, in one transaction. `signup` makes it the sign-up grant:
   * it lands at most once per user, however many first requests race; false if it had already landed.
   */
  async grantCredits(userId: string, amount: number, reason: LedgerReason, options: { note?: string; signup?: boolean } = {}) {
    const applied = await this.changeBalance(userId, reason, options.note, (balance) => balance + amount, options.signup ?? false);
    return applied !== null;
  }

  /** Sets the balance (the local stack's test knob) and books the difference as an adjustment, so the ledger still sums. */
  async setBalance(userId: string, balance: number) {
    await this.changeBalance(userId, 'adjustment', undefined, () => balance, true);
    return balance;
  }

  /** The user's ledger, newest first. */
  async ledger(userId: string, limit: number, cursor?: string) {
    const partition = `USER#${userId}`;
    const { Items = [], LastEvaluatedKey } = await this.doc.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :user AND begins_with(sk, :ledger)',
        ExpressionAttributeValues: { ':user': partition, ':ledger': LEDGER },
        ScanIndexForward: false,
        Limit: limit,
        ConsistentRead: true,
        ExclusiveStartKey: cursor === undefined ? undefined : decodeLedgerCursor(cursor, partition),
      }),
    );
    return {
      entries: Items.map(({ at, delta, balance, reason, jobId, note }) => ({
        at,
        delta,
        balance,
        reason,
        ...(jobId ? { jobId } : {}),
        ...(note ? { note } : {}),
      })) as LedgerEntry[],
      nextCursor: LastEvaluatedKey ? Buffer.from(JSON.stringify(LastEvaluatedKey)).toString('base64url') : null,
    };
  }

  /**
   * One balance change and its ledger entry in one transaction, retried while other changes land in between.
   * `signup` also marks the sign-up grant as given (and refuses to give it twice: then null).
   */
  private async changeBalance(
    userId: string,
    reason: LedgerReason,
    note: string | undefined,
    next: (balance: number) => number,
    signup: boolean,
  ): Promise<number | null> {
    for (let attempt = 0; ; attempt++) {
      const user = await this.user(userId);
      if (signup && reason === 'signup' && user?.signedUp) return null;
      const before = user?.balance ?? 0;
      const balance = next(before);
      if (!Number.isSafeInteger(balance) || balance < 0) throw new InvalidRequest('A balance is a whole number and never negative.');
      const seq = (user?.ledgerSeq ?? 0) + 1;
      const delta = balance - before;
      try {
        await this.doc.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Update: {
                  TableName: this.table,
                  Key: userKey(userId),
                  UpdateExpression: `SET balance = :balance, granted = if_not_exists(granted, :zero) + :delta, debited = if_not_exists(debited, :zero), refunded = if_not_exists(refunded, :zero), ledgerSeq = :seq${signup ? ', signedUp = :true' : ''}`,
                  ConditionExpression:
                    signup && reason === 'signup' ? `attribute_not_exists(signedUp) AND ${seqCondition(seq)}` : seqCondition(seq),
                  ExpressionAttributeValues: {
                    ':balance': balance,
                    ':delta': delta,
                    ':zero': 0,
                    ...seqValues(seq),
                    ...(signup ? { ':true': true } : {}),
                  },
                },
              },
              this.ledgerEntry(userId, seq, { at: new Date().toISOString(), delta, balance, reason, ...(note ? { note } : {}) }),
            ],
          }),
        );
        return balance;
      } catch (error) {
        if (!(error instanceof TransactionCanceledException) || attempt >= CONFLICT_RETRIES) throw error;
        await sleep(10 * 2 ** attempt * Math.random());
      }
    }
  }

  private ledgerEntry(userId: string, seq: number, entry: LedgerEntry) {
    return {
      Put: { TableName: this.table, Item: { ...ledgerKey(userId, seq), ...entry }, ConditionExpression: 'attribute_not_exists(pk)' },
    };
  }

  async user(userId: string) {
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.table, Key: userKey(userId), ConsistentRead: true }));
    return Item as
      | {
          balance: number;
          granted: number;
          debited: number;
          refunded: number;
          ledgerSeq?: number;
          signedUp?: boolean;
          activeJobId?: string;
        }
      | undefined;
  }

  private jobItem(job: JobRecord) {
    const terminal = job.status !== 'queued' && job.status !== 'running';
    return {
      ...jobKey(job.jobId),
      ...job,
      gsi1pk: `USER#${job.userId}`,
      gsi1sk: `${job.createdAt}#${job.jobId}`,
      ...(terminal ? { ttl: this.expiry() } : { livePk: LIVE_JOB, liveSk: `${job.createdAt}#${job.jobId}` }),
    };
  }
}

/** The user's balance version: the ledger sequence number the write expects to find (none before the first entry). */
const seqCondition = (seq: number) => (seq === 1 ? 'attribute_not_exists(ledgerSeq)' : 'ledgerSeq = :prevSeq');
const seqValues = (seq: number) => ({ ':seq': seq, ...(seq === 1 ? {} : { ':prevSeq': seq - 1 }) });

/** A ledger cursor is the table's LastEvaluatedKey, `{pk: USER#<caller>, sk: LEDGER#<12 digits>}`, base64url JSON. */
function decodeLedgerCursor(cursor: string, partition: string) {
  if (cursor.length <= MAX_CURSOR_LENGTH && /^[A-Za-z0-9_-]+$/.test(cursor)) {
    try {
      const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
      const names = key && typeof key === 'object' && !Array.isArray(key) ? Object.keys(key).sort() : [];
      if (names.join() === 'pk,sk' && key.pk === partition && typeof key.sk === 'string' && /^LEDGER#\d{12}$/.test(key.sk)) {
        return key as Record<string, string>;
      }
    } catch {}
  }
  throw new InvalidRequest('cursor is not one this API returned.');
}

const CURSOR_KEYS = ['gsi1pk', 'gsi1sk', 'pk', 'sk'];
const MAX_CURSOR_LENGTH = 1024;

/**
 * A list cursor is the byUser index's LastEvaluatedKey, base64url JSON. Anything that is not exactly such a
 * key of this user's partition (an extra or missing attribute, another user, a non-string) is refused here:
 * DynamoDB would answer a ValidationException, i.e. a 500.
 */
function decodeCursor(cursor: string, partition: string) {
  if (cursor.length <= MAX_CURSOR_LENGTH && /^[A-Za-z0-9_-]+$/.test(cursor)) {
    try {
      const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
      const names = key && typeof key === 'object' && !Array.isArray(key) ? Object.keys(key).sort() : [];
      const jobId = typeof key?.pk === 'string' ? key.pk.slice('JOB#'.length) : '';
      const valid =
        names.join() === CURSOR_KEYS.join() &&
        key.gsi1pk === partition &&
        key.sk === 'JOB' &&
        key.pk === `JOB#${jobId}` &&
        isJobId(jobId) &&
        typeof key.gsi1sk === 'string' &&
        key.gsi1sk.endsWith(`#${jobId}`) &&
        !Number.isNaN(Date.parse(key.gsi1sk.slice(0, -jobId.length - 1)));
      if (valid) return key as Record<string, string>;
    } catch {}
  }
  throw new InvalidRequest('cursor is not one this API returned.');
}

/** Drops the table's own attributes from an item. */
const sumCounts = (items: Record<string, unknown>[]) => items.reduce((sum, item) => sum + Number(item.n ?? 0), 0);

function strip(item: Record<string, unknown>) {
  const { pk, sk, gsi1pk, gsi1sk, livePk, liveSk, ttl, stored, ...rest } = item;
  return rest;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
