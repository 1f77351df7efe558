import { TABLE_SCHEMA } from '../../lambdas/adapters/table-schema';

/**
 * The DynamoDB actions each function's code calls, derived by following every handler in
 * lambdas/handlers/* through lambdas/services.ts to the DynamoStore methods it reaches
 * (lambdas/adapters/dynamo/). Transactions need no action of their own: IAM checks each
 * Put/Update/Delete/ConditionCheck inside a TransactWriteItems as PutItem/UpdateItem/DeleteItem/ConditionCheckItem.
 *
 * | handler          | reaches (DynamoStore methods)                                         | actions                                  | indexes |
 * |------------------|-----------------------------------------------------------------------|------------------------------------------|---------|
 * | api              | user, getJob, putIntent, queuePosition, listJobs, counts, ledger;     |
 * |                  | push subscriptions (Put, Query, Delete)                               |                                          |         | GetItem PutItem UpdateItem DeleteItem    | byUser  |
 * |                  | grantCredits (sign-up: tx Update/Put); cancel → finalize + grantNext   | Query                                    |         |
 * |                  | (freeSlots, queueHeads, grant), recordToken (no)                      |                                          |         |
 * | s3-event         | getIntent, getJob, markInputStored, user, admit (tx Put/Update/Put/   | GetItem PutItem UpdateItem               | —       |
 * |                  | Put ledger/Update intent), putRejected (tx Put/Update)                |                                          |         |
 * | wait-for-slot    | recordToken, getJob, grantNext (freeSlots, queueHeads, grant tx)      | GetItem PutItem UpdateItem DeleteItem    | —       |
 * |                  |                                                                       | Query                                    |         |
 * | stage-inputs     | getJob, recordStagedInputs                                            | GetItem UpdateItem                       | —       |
 * | run-on-provider  | getJob, recordToken, adoptTask; on 421/415 requeue (tx Update/Delete/  | GetItem PutItem UpdateItem DeleteItem    | —       |
 * |                  | Put), freeSlots, noteProviderCapacity                                  | Query                                    |         |
 * | collect-outputs  | getJob                                                                | GetItem                                  | —       |
 * | finalize         | getJob, finalize (tx Update/Update/Delete), grantNext; the user's     |
 * |                  | push subscriptions (Query; Delete when a push service says gone)      |                                          |         | GetItem PutItem UpdateItem DeleteItem    | —       |
 * |                  |                                                                       | Query                                    |         |
 * | sweeper          | liveJobs, heldLocks, pendingIntents (live index), heldSlots,          | GetItem PutItem UpdateItem DeleteItem    | live    |
 * |                  | releaseSlot (tx Delete/ConditionCheck), releaseLock, settleIntent,    | Query ConditionCheckItem                 |         |
 * |                  | getJob, finalize, grantNext;                                          |                                          |         |
 * |                  | a lost admission: getIntent, markInputStored, user, admit, putRejected |                                          |         |
 * | execution-ended  | getJob, finalize (heal → fail/succeed), grantNext                     | GetItem PutItem UpdateItem DeleteItem    | —       |
 * |                  |                                                                       | Query                                    |         |
 *
 * Every function that changes a job also reads the push connections (Query LIVE#CONN) and deletes gone ones.
 * live-connection puts and deletes its connection items only.
 *
 * No function scans, batch-writes, reads streams or describes the table.
 */
type DynamoAction = 'GetItem' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'Query' | 'ConditionCheckItem';
type IndexName = typeof TABLE_SCHEMA.byUserIndex.name | typeof TABLE_SCHEMA.liveIndex.name;

export interface TableAccess {
  actions: readonly DynamoAction[];
  /** Indexes the function queries; Query on the table itself is in `actions`. */
  indexes: readonly IndexName[];
}

const queueWriter: DynamoAction[] = ['GetItem', 'PutItem', 'UpdateItem', 'DeleteItem', 'Query'];

export const TABLE_ACCESS: Record<string, TableAccess> = {
  api: { actions: queueWriter, indexes: [TABLE_SCHEMA.byUserIndex.name] },
  // Query and DeleteItem: it pushes the admitted job to its owner's connections, forgetting the ones gone (live-channel.ts).
  's3-event': { actions: ['GetItem', 'PutItem', 'UpdateItem', 'Query', 'DeleteItem'], indexes: [] },
  'wait-for-slot': { actions: queueWriter, indexes: [] },
  'stage-inputs': { actions: ['GetItem', 'UpdateItem'], indexes: [] },
  'run-on-provider': { actions: queueWriter, indexes: [] },
  'collect-outputs': { actions: ['GetItem'], indexes: [] },
  finalize: { actions: queueWriter, indexes: [] },
  // ConditionCheckItem: a leaked slot is released only if, at the write, its job does not run in it (releaseSlot).
  sweeper: { actions: [...queueWriter, 'ConditionCheckItem'], indexes: [TABLE_SCHEMA.liveIndex.name] },
  'execution-ended': { actions: queueWriter, indexes: [] },
  // The push channel's connection items: written on $connect, deleted on $disconnect.
  'live-connection': { actions: ['PutItem', 'DeleteItem'], indexes: [] },
};
