import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { CreditLedger, JobStore, LiveStore, QueueStore } from '../domain/ports';
import { DynamoCreditLedger } from './dynamo/credit-ledger';
import { DynamoJobStore } from './dynamo/job-store';
import { DynamoLiveStore } from './dynamo/live-store';
import { DynamoQueueStore } from './dynamo/queue-store';
import { Table } from './dynamo/table';

export { queueKeyOf } from './dynamo/keys';

/** Every port over the one table (layout: dynamo/keys.ts), for callers that hand one store to all of them. */
export class DynamoStore implements JobStore, CreditLedger, QueueStore, LiveStore {
  private readonly jobs: DynamoJobStore;
  private readonly credits: DynamoCreditLedger;
  private readonly queue: DynamoQueueStore;
  private readonly live: DynamoLiveStore;

  constructor(doc: DynamoDBDocumentClient, tableName: string, retentionDays: number) {
    const table = new Table(doc, tableName, retentionDays);
    this.jobs = new DynamoJobStore(table);
    this.credits = new DynamoCreditLedger(table);
    this.queue = new DynamoQueueStore(table);
    this.live = new DynamoLiveStore(table);
  }

  putIntent(...args: Parameters<DynamoJobStore['putIntent']>) {
    return this.jobs.putIntent(...args);
  }
  getIntent(...args: Parameters<DynamoJobStore['getIntent']>) {
    return this.jobs.getIntent(...args);
  }
  markInputStored(...args: Parameters<DynamoJobStore['markInputStored']>) {
    return this.jobs.markInputStored(...args);
  }
  admit(...args: Parameters<DynamoJobStore['admit']>) {
    return this.jobs.admit(...args);
  }
  putRejected(...args: Parameters<DynamoJobStore['putRejected']>) {
    return this.jobs.putRejected(...args);
  }
  getJob(...args: Parameters<DynamoJobStore['getJob']>) {
    return this.jobs.getJob(...args);
  }
  listJobs(...args: Parameters<DynamoJobStore['listJobs']>) {
    return this.jobs.listJobs(...args);
  }
  queuePosition(...args: Parameters<DynamoJobStore['queuePosition']>) {
    return this.jobs.queuePosition(...args);
  }

  user(...args: Parameters<DynamoCreditLedger['user']>) {
    return this.credits.user(...args);
  }
  balance(...args: Parameters<DynamoCreditLedger['balance']>) {
    return this.credits.balance(...args);
  }
  activeJobId(...args: Parameters<DynamoCreditLedger['activeJobId']>) {
    return this.credits.activeJobId(...args);
  }
  account(...args: Parameters<DynamoCreditLedger['account']>) {
    return this.credits.account(...args);
  }
  grantCredits(...args: Parameters<DynamoCreditLedger['grantCredits']>) {
    return this.credits.grantCredits(...args);
  }
  setBalance(...args: Parameters<DynamoCreditLedger['setBalance']>) {
    return this.credits.setBalance(...args);
  }
  ledger(...args: Parameters<DynamoCreditLedger['ledger']>) {
    return this.credits.ledger(...args);
  }

  freeSlots(...args: Parameters<DynamoQueueStore['freeSlots']>) {
    return this.queue.freeSlots(...args);
  }
  queueHeads(...args: Parameters<DynamoQueueStore['queueHeads']>) {
    return this.queue.queueHeads(...args);
  }
  grant(...args: Parameters<DynamoQueueStore['grant']>) {
    return this.queue.grant(...args);
  }
  requeue(...args: Parameters<DynamoQueueStore['requeue']>) {
    return this.queue.requeue(...args);
  }
  providerCapacity(...args: Parameters<DynamoQueueStore['providerCapacity']>) {
    return this.queue.providerCapacity(...args);
  }
  noteProviderCapacity(...args: Parameters<DynamoQueueStore['noteProviderCapacity']>) {
    return this.queue.noteProviderCapacity(...args);
  }
  recordToken(...args: Parameters<DynamoQueueStore['recordToken']>) {
    return this.queue.recordToken(...args);
  }
  requestStaging(...args: Parameters<DynamoQueueStore['requestStaging']>) {
    return this.queue.requestStaging(...args);
  }
  recordStagedInputs(...args: Parameters<DynamoQueueStore['recordStagedInputs']>) {
    return this.queue.recordStagedInputs(...args);
  }
  noteTaskCancelled(...args: Parameters<DynamoQueueStore['noteTaskCancelled']>) {
    return this.queue.noteTaskCancelled(...args);
  }
  adoptTask(...args: Parameters<DynamoQueueStore['adoptTask']>) {
    return this.queue.adoptTask(...args);
  }
  finalize(...args: Parameters<DynamoQueueStore['finalize']>) {
    return this.queue.finalize(...args);
  }
  counts(...args: Parameters<DynamoQueueStore['counts']>) {
    return this.queue.counts(...args);
  }
  pruneQueueCounters(...args: Parameters<DynamoQueueStore['pruneQueueCounters']>) {
    return this.queue.pruneQueueCounters(...args);
  }

  liveJobs(...args: Parameters<DynamoLiveStore['liveJobs']>) {
    return this.live.liveJobs(...args);
  }
  heldLocks(...args: Parameters<DynamoLiveStore['heldLocks']>) {
    return this.live.heldLocks(...args);
  }
  heldSlots(...args: Parameters<DynamoLiveStore['heldSlots']>) {
    return this.live.heldSlots(...args);
  }
  releaseSlot(...args: Parameters<DynamoLiveStore['releaseSlot']>) {
    return this.live.releaseSlot(...args);
  }
  releaseLock(...args: Parameters<DynamoLiveStore['releaseLock']>) {
    return this.live.releaseLock(...args);
  }
  pendingIntents(...args: Parameters<DynamoLiveStore['pendingIntents']>) {
    return this.live.pendingIntents(...args);
  }
  settleIntent(...args: Parameters<DynamoLiveStore['settleIntent']>) {
    return this.live.settleIntent(...args);
  }
}
