import { ConditionalCheckFailedException, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import {
  type DeleteCommand,
  type DynamoDBDocumentClient,
  GetCommand,
  type PutCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  type UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { InvalidRequest } from '../../domain/errors';

export type TransactItems = NonNullable<TransactWriteCommandInput['TransactItems']>;

/** How often a read-then-write transaction is retried when other writers land in between. */
export const CONFLICT_RETRIES = 5;

/**
 * Cancelled only because another transaction was writing one of the same items at that moment (DynamoDB's
 * TransactionConflict; the queue's position counters are shared by every job entering or leaving in the same
 * second), with no condition failed: not an answer, the same writes are tried again.
 */
export function lostToConflict(error: TransactionCanceledException) {
  const codes = (error.CancellationReasons ?? []).map((reason) => reason.Code);
  return codes.includes('TransactionConflict') && !codes.includes('ConditionalCheckFailed');
}

/** Jittered exponential backoff before retry number `attempt` (1-based): up to 20, 40, 80, 160 ms. */
export const backoff = (attempt: number) => sleep(10 * 2 ** attempt * Math.random());

/** The table and the low-level calls every port module shares. */
export class Table {
  constructor(
    readonly doc: DynamoDBDocumentClient,
    readonly name: string,
    private readonly retentionDays: number,
  ) {}

  /** A consistent read of one item. */
  async get(Key: Record<string, unknown>) {
    const { Item } = await this.doc.send(new GetCommand({ TableName: this.name, Key, ConsistentRead: true }));
    return Item;
  }

  /** A single conditional write; false when its condition failed. */
  async conditional(command: DeleteCommand | UpdateCommand | PutCommand) {
    try {
      await this.doc.send(command as UpdateCommand);
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /**
   * Runs a transaction whose conditions encode "nothing changed since I read it"; false when one failed (or when
   * it kept meeting other writers' transactions: the caller reads again either way).
   */
  async transact(TransactItems: TransactItems) {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.doc.send(new TransactWriteCommand({ TransactItems }));
        return true;
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        if (!lostToConflict(error) || attempt >= CONFLICT_RETRIES) return false;
        await backoff(attempt);
      }
    }
  }

  /** Every page of a consistent query on the table itself. */
  async queryPages(
    input: Pick<
      QueryCommandInput,
      'KeyConditionExpression' | 'ExpressionAttributeValues' | 'ExpressionAttributeNames' | 'FilterExpression'
    >,
  ) {
    const items: Record<string, unknown>[] = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(new QueryCommand({ TableName: this.name, ConsistentRead: true, ExclusiveStartKey, ...input }));
      items.push(...(page.Items ?? []));
      ExclusiveStartKey = page.LastEvaluatedKey;
    } while (ExclusiveStartKey);
    return items;
  }

  /** Every item whose `keyName` is `value`, on an index (eventually consistent) or the table (consistent). */
  async queryAll(index: string | undefined, keyName: string, value: string) {
    const items: Record<string, unknown>[] = [];
    let ExclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const page = await this.doc.send(
        new QueryCommand({
          TableName: this.name,
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

  /** The TTL of an item that reached its end: kept `retentionDays`, then DynamoDB deletes it. */
  expiry() {
    return Math.floor(Date.now() / 1000) + this.retentionDays * 86_400;
  }
}

/** Drops the table's own attributes from an item. */
export function strip(item: Record<string, unknown>) {
  const { pk, sk, gsi1pk, gsi1sk, livePk, liveSk, ttl, stored, ...rest } = item;
  return rest;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const MAX_CURSOR_LENGTH = 1024;

/** A page cursor is a query's LastEvaluatedKey, base64url JSON. */
export const encodeCursor = (lastKey: Record<string, unknown> | undefined) =>
  lastKey ? Buffer.from(JSON.stringify(lastKey)).toString('base64url') : null;

/**
 * The key a cursor this API returned stands for: exactly the attributes `names` (sorted), passing `valid`.
 * Anything else is refused here: DynamoDB would answer a ValidationException, i.e. a 500.
 */
export function decodeCursor(cursor: string, names: string[], valid: (key: Record<string, unknown>) => boolean) {
  if (cursor.length <= MAX_CURSOR_LENGTH && /^[A-Za-z0-9_-]+$/.test(cursor)) {
    try {
      const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
      const keys = key && typeof key === 'object' && !Array.isArray(key) ? Object.keys(key).sort() : [];
      if (keys.join() === names.join() && valid(key)) return key as Record<string, string>;
    } catch {}
  }
  throw new InvalidRequest('cursor is not one this API returned.');
}
