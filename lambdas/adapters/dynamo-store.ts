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
              { Put: { TableName: this.table, Item: { pk: QUEUE, sk: queueKeyOf(job), jobId: job.jobId } } },
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
function strip(item: Record<string, unknown>) {
  const { pk, sk, gsi1pk, gsi1sk, livePk, liveSk, ttl, stored, ...rest } = item;
  return rest;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
