import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { Table } from '../../lambdas/adapters/dynamo/table';

/** DynamoDB's answer to a cancelled transaction, one reason per item (TransactWriteItems API reference). */
const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({
    message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${codes.join(', ')}]`,
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

/** A table whose client answers each TransactWriteItems with the next of `answers` (an error or success). */
function tableAnswering(...answers: (Error | 'ok')[]) {
  let calls = 0;
  const doc = {
    async send() {
      const answer = answers[calls++] ?? 'ok';
      if (answer !== 'ok') throw answer;
      return {};
    },
  } as unknown as DynamoDBDocumentClient;
  return { table: new Table(doc, 'jobs', 30), calls: () => calls };
}

describe('a conditional transaction', () => {
  it('tries again when it only met another transaction on the same items', async () => {
    const { table, calls } = tableAnswering(cancelled('None', 'TransactionConflict'), cancelled('TransactionConflict', 'None'), 'ok');

    expect(await table.transact([])).toBe(true);
    expect(calls()).toBe(3);
  });

  it('answers false at once when a condition failed, conflict or not', async () => {
    const { table, calls } = tableAnswering(cancelled('ConditionalCheckFailed', 'TransactionConflict'));

    expect(await table.transact([])).toBe(false);
    expect(calls()).toBe(1);
  });

  it('gives up after five conflicts in a row, and passes on any other error', async () => {
    const conflicts = tableAnswering(...Array.from({ length: 6 }, () => cancelled('TransactionConflict')));
    expect(await conflicts.table.transact([])).toBe(false);
    expect(conflicts.calls()).toBe(5);

    const throttled = tableAnswering(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    await expect(throttled.table.transact([])).rejects.toThrow('Rate exceeded');
  });
});
