import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { JobRecord, UploadIntent } from '../../domain/jobs';
import type { LiveStore } from '../../domain/ports';
import { TABLE_SCHEMA } from '../table-schema';
import { intentKey, jobKey, LIVE, LIVE_INTENT, LIVE_JOB, LIVE_LOCK, SLOT, slotKey, userIdOf, userKey } from './keys';
import { strip, type Table } from './table';

export class DynamoLiveStore implements LiveStore {
  constructor(private readonly table: Table) {}

  async liveJobs() {
    return (await this.live(LIVE_JOB)).map((item) => strip(item) as unknown as JobRecord);
  }

  async heldLocks() {
    return (await this.live(LIVE_LOCK)).map((item) => ({ userId: userIdOf(item.pk as string), jobId: item.activeJobId as string }));
  }

  async heldSlots() {
    return (await this.table.queryAll(undefined, TABLE_SCHEMA.partitionKey, SLOT)).map((item) => ({
      slot: Number(item.sk),
      jobId: item.jobId as string,
    }));
  }

  async releaseSlot(slot: number, jobId: string) {
    // The job's side is checked in the same transaction: a job sent back to the queue and granted this slot again
    // between the sweeper's read and this write holds it anew (same slot, same job id), and must keep it.
    return this.table.transact([
      {
        Delete: {
          TableName: this.table.name,
          Key: slotKey(slot),
          ConditionExpression: 'jobId = :job',
          ExpressionAttributeValues: { ':job': jobId },
        },
      },
      {
        ConditionCheck: {
          TableName: this.table.name,
          Key: jobKey(jobId),
          ConditionExpression: 'attribute_not_exists(pk) OR #status <> :running OR slot <> :slot',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':running': 'running', ':slot': slot },
        },
      },
    ]);
  }

  async releaseLock(userId: string, jobId: string) {
    return this.table.conditional(
      new UpdateCommand({
        TableName: this.table.name,
        Key: userKey(userId),
        UpdateExpression: 'REMOVE activeJobId, livePk, liveSk',
        ConditionExpression: 'activeJobId = :job',
        ExpressionAttributeValues: { ':job': jobId },
      }),
    );
  }

  /** Uploads still waiting for their job (oldest upload window first), with the slots admission has recorded. */
  async pendingIntents() {
    return (await this.live(LIVE_INTENT)).map((item) => ({
      intent: strip(item) as unknown as UploadIntent,
      storedSlots: Object.keys((item.stored ?? {}) as Record<string, unknown>),
    }));
  }

  /** Takes an intent out of the `live` index: its job exists, or its upload window closed with inputs missing. */
  async settleIntent(jobId: string) {
    return this.table.conditional(
      new UpdateCommand({
        TableName: this.table.name,
        Key: intentKey(jobId),
        UpdateExpression: 'REMOVE livePk, liveSk',
        ConditionExpression: 'attribute_exists(pk)',
      }),
    );
  }

  /** One partition of the sparse `live` index. */
  private live(partition: string) {
    return this.table.queryAll(LIVE.name, LIVE.partitionKey, partition);
  }
}
