import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { QueryCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { InvalidRequest } from '../../domain/errors';
import type { Account, CreditLedger, LedgerEntry, LedgerReason } from '../../domain/ports';
import { LEDGER, ledgerKey, userKey, userPartition } from './keys';
import { backoff, CONFLICT_RETRIES, decodeCursor, encodeCursor, type Table } from './table';

/** The user's profile item: balance, its running totals and version, the sign-up mark and the one-active-job lock. */
export interface UserItem {
  balance: number;
  granted: number;
  debited: number;
  refunded: number;
  ledgerSeq?: number;
  signedUp?: boolean;
  activeJobId?: string;
}

export async function readUser(table: Table, userId: string) {
  return (await table.get(userKey(userId))) as UserItem | undefined;
}

/** The user's balance version: the ledger sequence number the write expects to find (none before the first entry). */
export const seqCondition = (seq: number) => (seq === 1 ? 'attribute_not_exists(ledgerSeq)' : 'ledgerSeq = :prevSeq');
export const seqValues = (seq: number) => ({ ':seq': seq, ...(seq === 1 ? {} : { ':prevSeq': seq - 1 }) });

/** The ledger entry for balance version `seq`, to write in the transaction that moves the balance. */
export const ledgerPut = (table: Table, userId: string, seq: number, entry: LedgerEntry) => ({
  Put: { TableName: table.name, Item: { ...ledgerKey(userId, seq), ...entry }, ConditionExpression: 'attribute_not_exists(pk)' },
});

export class DynamoCreditLedger implements CreditLedger {
  constructor(private readonly table: Table) {}

  user(userId: string) {
    return readUser(this.table, userId);
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
    const partition = userPartition(userId);
    const { Items = [], LastEvaluatedKey } = await this.table.doc.send(
      new QueryCommand({
        TableName: this.table.name,
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
      nextCursor: encodeCursor(LastEvaluatedKey),
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
        await this.table.doc.send(
          new TransactWriteCommand({
            TransactItems: [
              {
                Update: {
                  TableName: this.table.name,
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
              ledgerPut(this.table, userId, seq, { at: new Date().toISOString(), delta, balance, reason, ...(note ? { note } : {}) }),
            ],
          }),
        );
        return balance;
      } catch (error) {
        if (!(error instanceof TransactionCanceledException) || attempt >= CONFLICT_RETRIES) throw error;
        await backoff(attempt);
      }
    }
  }
}

/** A ledger cursor is the table's LastEvaluatedKey, `{pk: USER#<caller>, sk: LEDGER#<12 digits>}`. */
const decodeLedgerCursor = (cursor: string, partition: string) =>
  decodeCursor(cursor, ['pk', 'sk'], (key) => key.pk === partition && typeof key.sk === 'string' && /^LEDGER#\d{12}$/.test(key.sk));
