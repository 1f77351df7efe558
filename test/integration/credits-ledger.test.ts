import { describe, expect, it } from 'vitest';
import { DomainError } from '../../lambdas/domain/errors';
import { newUser, submit, testStack } from '../support/emulator-stack';
import { assertInvariants, snapshot } from '../support/invariants';
import { image } from '../support/media';

// SIGNUP_CREDITS = 3 (the default), on DynamoDB Local through the real DynamoStore.
const stack = await testStack({ signupCredits: 3 });
const { creditService, credits, lifecycle, queries } = stack.services;

const png = await image('png');
const upscale = (userId: string) =>
  submit(stack, userId, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: png }], { scale: 2 });

async function failure(promise: Promise<unknown>) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(DomainError);
  return error as DomainError;
}

describe('the sign-up grant', () => {
  it('gives a new user SIGNUP_CREDITS exactly once however many first requests race', async () => {
    const userId = newUser();
    const balances = await Promise.all(Array.from({ length: 12 }, () => creditService.balance(userId)));
    expect(balances).toEqual(balances.map(() => 3));
    const page = await credits.ledger(userId, 10);
    expect(page.entries).toEqual([{ at: expect.any(String), delta: 3, balance: 3, reason: 'signup' }]);
    await assertInvariants(stack);
  });

  it('does not grant sign-up credits on top of a balance set by hand', async () => {
    const userId = newUser();
    await credits.setBalance(userId, 7);
    expect(await creditService.balance(userId)).toBe(7);
    expect((await credits.ledger(userId, 10)).entries.map((e) => e.reason)).toEqual(['adjustment']);
  });

  it('still gives the sign-up credits to a user an operator granted credits before their first request', async () => {
    const userId = newUser();
    await creditService.operatorGrant(userId, 10, 'Beta tester');
    expect(await creditService.balance(userId)).toBe(13);
    const { entries } = await credits.ledger(userId, 10);
    expect(entries.map(({ reason, delta, balance, note }) => ({ reason, delta, balance, note }))).toEqual([
      { reason: 'signup', delta: 3, balance: 13, note: undefined },
      { reason: 'operator', delta: 10, balance: 10, note: 'Beta tester' },
    ]);
  });

  it('grants nothing when SIGNUP_CREDITS is 0', async () => {
    const none = (await testStack({ signupCredits: 0 })).services;
    const userId = newUser();
    expect(await none.creditService.balance(userId)).toBe(0);
    expect((await none.credits.ledger(userId, 10)).entries).toEqual([]);
  });
});

describe('debits and refunds', () => {
  it('writes the debit in the admission transaction and the refund in the cancel transaction', async () => {
    const userId = newUser();
    expect(await creditService.balance(userId)).toBe(3);
    await creditService.operatorGrant(userId, 2, 'Launch promo');
    const { jobId } = await upscale(userId);
    await lifecycle.cancel(userId, jobId);
    const { entries } = await credits.ledger(userId, 10);
    expect(entries.map(({ reason, delta, balance, jobId }) => ({ reason, delta, balance, jobId }))).toEqual([
      { reason: 'refund', delta: 1, balance: 5, jobId },
      { reason: 'debit', delta: -1, balance: 4, jobId },
      { reason: 'operator', delta: 2, balance: 5, jobId: undefined },
      { reason: 'signup', delta: 3, balance: 3, jobId: undefined },
    ]);
    expect(Date.parse(entries[0]?.at as string)).toBeGreaterThanOrEqual(Date.parse(entries[1]?.at as string));
    await assertInvariants(stack);
  });

  it('keeps balance = sum of the ledger while operator grants race admissions and refunds', async () => {
    const users = Array.from({ length: 6 }, newUser);
    await Promise.all(users.map((u) => credits.setBalance(u, 1)));
    await Promise.all(
      users.flatMap((userId) => [
        upscale(userId).then(({ jobId }) => lifecycle.cancel(userId, jobId)),
        ...Array.from({ length: 4 }, (_, i) => creditService.operatorGrant(userId, i + 1, `race ${i}`)),
      ]),
    );
    const { ledger, users: rows } = await assertInvariants(stack);
    for (const userId of users) {
      const row = rows.find((u) => u.pk === `USER#${userId}`);
      expect(row?.balance, userId).toBe(1 + 1 + 2 + 3 + 4);
      expect(ledger.filter((e) => e.pk === `USER#${userId}`)).toHaveLength(1 + 4 + 2);
    }
  });

  it('books no entry for an admission refused for lack of credits', async () => {
    const userId = newUser();
    await credits.setBalance(userId, 1);
    const first = await upscale(userId);
    await lifecycle.cancel(userId, first.jobId);
    await credits.setBalance(userId, 0);
    const { entries: before } = await credits.ledger(userId, 10);
    // Presigning refuses with 402 and nothing changes.
    expect((await failure(upscale(userId))).status).toBe(402);
    expect((await credits.ledger(userId, 10)).entries).toEqual(before);
  });
});

describe('GET /api/credits/ledger (queries.ledger)', () => {
  it('pages through the caller’s entries newest first and never shows anyone else’s', async () => {
    const userId = newUser();
    const other = newUser();
    await credits.setBalance(other, 50);
    for (let i = 1; i <= 5; i++) await creditService.operatorGrant(userId, i, `grant ${i}`);
    const seen: number[] = [];
    let cursor: string | undefined;
    do {
      const page = await queries.ledger(userId, { limit: '2', ...(cursor ? { cursor } : {}) });
      expect(page.entries.length).toBeLessThanOrEqual(2);
      seen.push(...page.entries.map((e) => e.delta));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    // The sign-up grant is the newest: it landed on the first read.
    expect(seen).toEqual([3, 5, 4, 3, 2, 1]);
    const theirs = await queries.ledger(other, { limit: '100' });
    expect(theirs.entries.map((e) => [e.reason, e.delta])).toEqual([['adjustment', 50]]);
    expect(theirs.nextCursor).toBeNull();
  });

  it.each([
    ['a limit of 0', { limit: '0' }],
    ['a limit over 100', { limit: '101' }],
    ['a limit that is not digits', { limit: '1e1' }],
    ['a cursor that is not base64url JSON', { cursor: '%%%' }],
    ['a cursor of the jobs list', { cursor: Buffer.from(JSON.stringify({ pk: 'JOB#x', sk: 'JOB' })).toString('base64url') }],
    [
      'another user’s cursor',
      { cursor: Buffer.from(JSON.stringify({ pk: 'USER#someone-else', sk: 'LEDGER#000000000001' })).toString('base64url') },
    ],
    [
      'a cursor with an extra key',
      { cursor: Buffer.from(JSON.stringify({ pk: 'USER#x', sk: 'LEDGER#000000000001', gsi1pk: 'y' })).toString('base64url') },
    ],
  ])('answers 400 INVALID_REQUEST for %s', async (_name, query) => {
    const error = await failure(queries.ledger(newUser(), query));
    expect(error.status).toBe(400);
    expect(error.code).toBe('INVALID_REQUEST');
  });

  it('refuses an operator grant of a non-positive or fractional amount, or with no reason', async () => {
    const userId = newUser();
    for (const [amount, note] of [
      [0, 'zero'],
      [-3, 'negative'],
      [1.5, 'fraction'],
      [2, '   '],
    ] as const) {
      expect((await failure(creditService.operatorGrant(userId, amount, note))).status).toBe(400);
    }
    expect((await snapshot(stack)).users.find((u) => u.pk === `USER#${userId}`)).toBeUndefined();
  });
});
