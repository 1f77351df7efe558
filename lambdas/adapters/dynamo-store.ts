import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { InvalidRequest } from '../domain/errors';
import type { LiveStore } from '../domain/healing';
import { isJobId, type JobRecord, type StoredInput, type UploadIntent } from '../domain/jobs';
import type { AdmitResult, CreditLedger, FinalChange, JobStore, QueueStore } from '../domain/ports';

/**
 * Single-table layout:
 *   USER#<id>  / PROFILE     balance, granted, debited, refunded, activeJobId (the one-active-job lock)
 *   JOB#<id>   / INTENT      what POST /uploads promised, plus the inputs stored so far (TTL)
 *   JOB#<id>   / JOB         the job; gsi1 = (USER#<id>, createdAt#jobId) lists a user's jobs
 *   QUEUE      / <queueKey>  one entry per waiting job, sorted FIFO
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
const slotKey = (slot: number) => ({ pk: SLOT, sk: String(slot).padStart(3, '0') });
/** Admission order: time first, job id breaks ties, so the order is total. */
export const queueKeyOf = (job: Pick<JobRecord, 'createdAt' | 'jobId'>) => `${job.createdAt}#${job.jobId}`;

const CONFLICT_RETRIES = 5;

export class DynamoStore implements JobStore, CreditLedger, QueueStore, LiveStore {
  constructor(
    private readonly doc: DynamoDBDocumentClient,
    private readonly table: string,
    private readonly retentionDays: number,
  ) {}

  async putIntent(intent: UploadIntent, expiresAtEpoch: number) {
    await this.doc.send(
      new PutCommand({ TableName: this.table, Item: { ...intentKey(intent.jobId), ...intent, stored: {}, ttl: expiresAtEpoch } }),
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
                    'SET activeJobId = :job, balance = balance - :cost, debited = debited + :cost, livePk = :lock, liveSk = :job',
                  ConditionExpression: 'attribute_not_exists(activeJobId) AND balance >= :cost',
                  ExpressionAttributeValues: { ':job': job.jobId, ':cost': job.creditCost, ':lock': LIVE_LOCK },
                  ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
                },
              },
              { Put: { TableName: this.table, Item: { pk: QUEUE, sk: queueKeyOf(job), jobId: job.jobId } } },
            ],
          }),
        );
        return { outcome: 'admitted' };
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        const [jobReason, userReason] = error.CancellationReasons ?? [];
        if (jobReason?.Code === 'ConditionalCheckFailed') return { outcome: 'duplicate' };
        if (userReason?.Code === 'ConditionalCheckFailed') {
          const user = userReason.Item ? unmarshall(userReason.Item) : {};
          return { outcome: 'rejected', code: user.activeJobId ? 'USER_BUSY' : 'INSUFFICIENT_CREDITS' };
        }
        // TransactionConflict: another writer touched the same items; the conditions decide on retry.
        if (attempt >= CONFLICT_RETRIES) throw error;
        await sleep(10 * 2 ** attempt * Math.random());
      }
    }
  }

  async putRejected(job: JobRecord) {
    return this.conditional(
      new PutCommand({ TableName: this.table, Item: this.jobItem(job), ConditionExpression: 'attribute_not_exists(pk)' }),
    );
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

  async queuePosition(job: JobRecord) {
    const { Count = 0 } = await this.doc.send(
      new QueryCommand({
        TableName: this.table,
        KeyConditionExpression: 'pk = :queue AND sk <= :mine',
        ExpressionAttributeValues: { ':queue': QUEUE, ':mine': queueKeyOf(job) },
        Select: 'COUNT',
        ConsistentRead: true,
      }),
    );
    return Count > 0 ? Count : null;
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
      { Delete: { TableName: this.table, Key: { pk: QUEUE, sk: queueKeyOf(job) } } },
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
      { Put: { TableName: this.table, Item: { pk: QUEUE, sk: queueKeyOf(job), jobId } } },
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
              ? 'REMOVE activeJobId, livePk, liveSk SET balance = balance + :refund, refunded = refunded + :refund'
              : 'REMOVE activeJobId, livePk, liveSk',
          ConditionExpression: 'attribute_not_exists(activeJobId) OR activeJobId = :job',
          ExpressionAttributeValues: { ':job': job.jobId, ...(refund > 0 ? { ':refund': refund } : {}) },
        },
      },
    ];
    if (job.status === 'queued') items.push({ Delete: { TableName: this.table, Key: { pk: QUEUE, sk: queueKeyOf(job) } } });
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
    return this.transact(items);
  }

  async counts() {
    const count = async (pk: string) =>
      (
        await this.doc.send(
          new QueryCommand({
            TableName: this.table,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': pk },
            Select: 'COUNT',
            ConsistentRead: true,
          }),
        )
      ).Count ?? 0;
    const [running, queued] = await Promise.all([count(SLOT), count(QUEUE)]);
    return { running, queued };
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
    return this.conditional(
      new DeleteCommand({
        TableName: this.table,
        Key: slotKey(slot),
        ConditionExpression: 'jobId = :job',
        ExpressionAttributeValues: { ':job': jobId },
      }),
    );
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

  /** Sets the balance and books the difference as a grant, so grants − debits + refunds = balance holds. */
  async setBalance(userId: string, balance: number) {
    for (let attempt = 0; ; attempt++) {
      const current = (await this.user(userId))?.balance;
      try {
        await this.doc.send(
          new UpdateCommand({
            TableName: this.table,
            Key: userKey(userId),
            UpdateExpression:
              'SET balance = :new, granted = if_not_exists(granted, :zero) + :delta, debited = if_not_exists(debited, :zero), refunded = if_not_exists(refunded, :zero)',
            ConditionExpression: current === undefined ? 'attribute_not_exists(balance)' : 'balance = :old',
            ExpressionAttributeValues: {
              ':new': balance,
              ':delta': balance - (current ?? 0),
              ':zero': 0,
              ...(current === undefined ? {} : { ':old': current }),
            },
          }),
        );
        return balance;
      } catch (error) {
        if ((error as Error).name !== 'ConditionalCheckFailedException' || attempt >= CONFLICT_RETRIES) throw error;
      }
    }
  }

  async user(userId: string) {
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.table, Key: userKey(userId), ConsistentRead: true }));
    return Item as { balance: number; granted: number; debited: number; refunded: number; activeJobId?: string } | undefined;
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
function strip(item: Record<string, unknown>) {
  const { pk, sk, gsi1pk, gsi1sk, livePk, liveSk, ttl, stored, ...rest } = item;
  return rest;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
