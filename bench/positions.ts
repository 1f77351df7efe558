/**
 * Queue-position benchmark: the read cost of one exact position while many jobs wait, before (count every queue
 * entry ahead, as Ghostless did until the position index) and after (the position index: three small queries).
 *
 *   npx tsx bench/positions.ts              # 10,000 waiting jobs (BENCH_WAITING or --waiting=N)
 *
 * The queue is filled through the store's own admission transactions on DynamoDB Local; read units are the
 * ConsumedCapacity DynamoDB Local reports for each read (consistent reads: 1 unit per 4 KB). Prints figures only.
 */
import './quiet-env';
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoStore, queueKeyOf } from '../lambdas/adapters/dynamo-store';
import type { JobRecord } from '../lambdas/domain/jobs';
import { startDynamoDbLocal } from '../local/emulators/dynamodb';
import { ensureTable } from '../local/resources';
import { fmt, loadAverage, table } from './figures';
import { intOption, mapLimit, now, waitingJob } from './support';

const WAITING = intOption('waiting', 'BENCH_WAITING', 10_000);
/** Arrivals this far apart: 10,000 jobs span 50 minutes of admission time, inside the default 1 h queue timeout. */
const ARRIVAL_GAP_MS = 300;
const SAMPLES = [1, 10, 100, 1_000, 5_000, WAITING].filter((rank, i, all) => rank <= WAITING && all.indexOf(rank) === i);

const dynamodb = await startDynamoDbLocal();
try {
  const raw = new DynamoDBClient({
    endpoint: dynamodb.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  });
  // Every call asks for its consumed capacity; the middleware adds up read units per measured operation.
  let readUnits = 0;
  raw.middlewareStack.add(
    (next) => async (args) => {
      (args.input as { ReturnConsumedCapacity?: string }).ReturnConsumedCapacity = 'TOTAL';
      const result = await next(args);
      const consumed = (result.output as { ConsumedCapacity?: { ReadCapacityUnits?: number; CapacityUnits?: number } }).ConsumedCapacity;
      if (consumed && !Array.isArray(consumed)) readUnits += consumed.ReadCapacityUnits ?? consumed.CapacityUnits ?? 0;
      return result;
    },
    { step: 'initialize', name: 'countReadUnits' },
  );
  const doc = DynamoDBDocumentClient.from(raw);
  const tableName = `positions-${randomUUID().slice(0, 8)}`;
  await ensureTable(raw, tableName);
  const store = new DynamoStore(doc, tableName, 30);

  const base = Date.now() - WAITING * ARRIVAL_GAP_MS;
  const started = now();
  const jobs = await mapLimit(
    Array.from({ length: WAITING }, (_, i) => i),
    16,
    async (i) => {
      const userId = `bench-${i}-${randomUUID().slice(0, 8)}`;
      await store.grantCredits(userId, 1, 'operator');
      const job = waitingJob(userId, new Date(base + i * ARRIVAL_GAP_MS).toISOString());
      const admitted = await store.admit(job);
      if (admitted.outcome !== 'admitted') throw new Error(`job ${i} was not admitted: ${JSON.stringify(admitted)}`);
      return job;
    },
  );
  const fillSeconds = (now() - started) / 1000;
  const fifo = [...jobs].sort((a, b) => queueKeyOf(a).localeCompare(queueKeyOf(b)));

  /** What the API did before the position index: count the entries up to this one (one page, as it was written). */
  async function countAhead(job: JobRecord) {
    const { Count = 0, LastEvaluatedKey } = await doc.send(
      new QueryCommand({
        TableName: tableName,
        KeyConditionExpression: 'pk = :queue AND sk <= :mine',
        ExpressionAttributeValues: { ':queue': 'QUEUE', ':mine': queueKeyOf(job) },
        Select: 'COUNT',
        ConsistentRead: true,
      }),
    );
    return { position: Count, truncated: LastEvaluatedKey !== undefined };
  }

  async function measure<T>(read: () => Promise<T>) {
    readUnits = 0;
    const at = now();
    const value = await read();
    return { value, units: readUnits, ms: now() - at };
  }

  const rows: (string | number)[][] = [['rank', 'before: answer', 'before: read units', 'after: answer', 'after: read units', 'after: ms']];
  for (const rank of SAMPLES) {
    const job = fifo[rank - 1] as JobRecord;
    const before = await measure(() => countAhead(job));
    const after = await measure(() => store.queuePosition(job));
    rows.push([
      rank,
      `${before.value.position}${before.value.truncated ? ' (stopped at 1 MB)' : ''}`,
      fmt(before.units),
      String(after.value),
      fmt(after.units),
      fmt(after.ms),
    ]);
  }
  const counts = await measure(() => store.counts());

  console.log(`\nQueue positions with ${WAITING} jobs waiting (DynamoDB Local; filled in ${fmt(fillSeconds)} s)\n`);
  console.log(table(rows));
  console.log(`\nGET /api/queue counts: queued ${counts.value.queued}, ${fmt(counts.units)} read units (the minute counters)`);
  console.log(`load average ${loadAverage()}`);
} finally {
  await dynamodb.stop();
}
