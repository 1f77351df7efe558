/**
 * The table's shape, shared by the CDK construct and the local stack so both create the same table.
 * Single-table design: `pk`/`sk` strings; GSI `byUser` lists a user's jobs newest first; the sparse
 * GSI `live` holds only non-terminal jobs and held user locks, so the sweeper never scans history.
 */
export const TABLE_SCHEMA = {
  partitionKey: 'pk',
  sortKey: 'sk',
  ttlAttribute: 'ttl',
  byUserIndex: { name: 'byUser', partitionKey: 'gsi1pk', sortKey: 'gsi1sk' },
  liveIndex: { name: 'live', partitionKey: 'livePk', sortKey: 'liveSk' },
} as const;
