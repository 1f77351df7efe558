import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { PutCommand, QueryCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { InvalidRequest } from '../../domain/errors';
import { isJobId, type JobRecord, type StoredInput, type UploadIntent } from '../../domain/jobs';
import type { AdmitResult, JobStore } from '../../domain/ports';
import { ledgerPut, readUser, seqCondition, seqValues } from './credit-ledger';
import { BY_USER, byUserEntry, intentKey, jobKey, LIVE_INTENT, LIVE_JOB, LIVE_LOCK, liveEntry, userKey, userPartition } from './keys';
import { queuePosition, queueWrites } from './queue-store';
import { backoff, CONFLICT_RETRIES, decodeCursor, encodeCursor, strip, type Table } from './table';

export class DynamoJobStore implements JobStore {
  constructor(private readonly table: Table) {}

  async putIntent(intent: UploadIntent, expiresAtEpoch: number) {
    const live = liveEntry(LIVE_INTENT, `${intent.expiresAt}#${intent.jobId}`);
    await this.table.doc.send(
      new PutCommand({
        TableName: this.table.name,
        Item: { ...intentKey(intent.jobId), ...intent, stored: {}, ttl: expiresAtEpoch, ...live },
      }),
    );
  }

  async getIntent(jobId: string) {
    const Item = await this.table.get(intentKey(jobId));
    return Item ? (strip(Item) as unknown as UploadIntent) : null;
  }

  async markInputStored(jobId: string, input: StoredInput) {
    const { Attributes } = await this.table.doc.send(
      new UpdateCommand({
        TableName: this.table.name,
        Key: intentKey(jobId),
        UpdateExpression: 'SET #stored.#slot = :input',
        ExpressionAttributeNames: { '#stored': 'stored', '#slot': input.slot },
        ExpressionAttributeValues: { ':input': input },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return Object.values((Attributes?.stored ?? {}) as Record<string, StoredInput>);
  }

  // Admission spans user, ledger and queue, but it is where a job comes to exist: it lives with the job.
  async admit(job: JobRecord): Promise<AdmitResult> {
    for (let attempt = 0; ; attempt++) {
      const user = await readUser(this.table, job.userId);
      const seq = (user?.ledgerSeq ?? 0) + 1;
      const entry = ledgerPut(this.table, job.userId, seq, {
        at: job.createdAt,
        delta: -job.creditCost,
        balance: (user?.balance ?? 0) - job.creditCost,
        reason: 'debit',
        jobId: job.jobId,
      });
      try {
        await this.table.doc.send(
          new TransactWriteCommand({
            TransactItems: [
              this.createJob(job),
              {
                Update: {
                  TableName: this.table.name,
                  Key: userKey(job.userId),
                  UpdateExpression:
                    'SET activeJobId = :job, balance = balance - :cost, debited = debited + :cost, ledgerSeq = :seq, livePk = :lock, liveSk = :job',
                  // The ledger sequence is the balance's version: the entry's `balance` is exactly what this write leaves.
                  ConditionExpression: `attribute_not_exists(activeJobId) AND balance >= :cost AND ${seqCondition(seq)}`,
                  ExpressionAttributeValues: { ':job': job.jobId, ':cost': job.creditCost, ':lock': LIVE_LOCK, ...seqValues(seq) },
                  ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
                },
              },
              ...queueWrites(this.table, job, 'enter'),
              entry,
              this.intentSettled(job.jobId),
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
        await backoff(attempt);
      }
    }
  }

  async putRejected(job: JobRecord) {
    return this.table.transact([this.createJob(job), this.intentSettled(job.jobId)]);
  }

  async getJob(jobId: string) {
    // Ids arrive from paths and webhooks: a malformed one is the caller's mistake, not a key DynamoDB should see.
    if (!isJobId(jobId)) throw new InvalidRequest('The job id is not one this API issued.');
    const Item = await this.table.get(jobKey(jobId));
    return Item ? (strip(Item) as unknown as JobRecord) : null;
  }

  async listJobs(userId: string, limit: number, cursor?: string) {
    const { Items = [], LastEvaluatedKey } = await this.table.doc.send(
      new QueryCommand({
        TableName: this.table.name,
        IndexName: BY_USER.name,
        KeyConditionExpression: `${BY_USER.partitionKey} = :user`,
        ExpressionAttributeValues: { ':user': userPartition(userId) },
        ScanIndexForward: false,
        Limit: limit,
        ExclusiveStartKey: cursor === undefined ? undefined : decodeListCursor(cursor, userPartition(userId)),
      }),
    );
    return { jobs: Items.map((item) => strip(item) as unknown as JobRecord), nextCursor: encodeCursor(LastEvaluatedKey) };
  }

  queuePosition(job: JobRecord) {
    return queuePosition(this.table, job);
  }

  /** Writes the job, once: listed under its user; in the `live` index while it waits or runs, else expiring. */
  private createJob(job: JobRecord) {
    const terminal = job.status !== 'queued' && job.status !== 'running';
    const Item = {
      ...jobKey(job.jobId),
      ...job,
      ...byUserEntry(job),
      ...(terminal ? { ttl: this.table.expiry() } : liveEntry(LIVE_JOB, `${job.createdAt}#${job.jobId}`)),
    };
    return { Put: { TableName: this.table.name, Item, ConditionExpression: 'attribute_not_exists(pk)' } };
  }

  /** The intent's part of the write that creates its job: out of the `live` index, no longer pending. */
  private intentSettled(jobId: string) {
    return { Update: { TableName: this.table.name, Key: intentKey(jobId), UpdateExpression: 'REMOVE livePk, liveSk' } };
  }
}

/**
 * A list cursor is the byUser index's LastEvaluatedKey: exactly a key of this user's partition (not an extra or
 * missing attribute, another user, a non-string).
 */
const decodeListCursor = (cursor: string, partition: string) =>
  decodeCursor(cursor, [BY_USER.partitionKey, BY_USER.sortKey, 'pk', 'sk'], (key) => {
    const jobId = typeof key.pk === 'string' ? key.pk.slice('JOB#'.length) : '';
    const listed = key[BY_USER.sortKey];
    return (
      key[BY_USER.partitionKey] === partition &&
      key.sk === 'JOB' &&
      key.pk === `JOB#${jobId}` &&
      isJobId(jobId) &&
      typeof listed === 'string' &&
      listed.endsWith(`#${jobId}`) &&
      !Number.isNaN(Date.parse(listed.slice(0, -jobId.length - 1)))
    );
  });
