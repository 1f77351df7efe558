import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { audit } from '../../scripts/audit-report';
import { assertInvariants } from '../support/invariants';
import { image } from '../support/media';
import { startTestStack } from '../support/started-stack';

/** Credits on the whole local stack (the synthesized assembly, SIGNUP_CREDITS at its default 3), over HTTP. */
const stack = await startTestStack({ PROVIDER_LATENCY_MS: '100' });
afterAll(() => stack.stop());

const png = await image('png');
const token = async (userId: string) =>
  (await stack.api.call<{ token: string }>('POST', '/api/local/token', { body: { userId } })).body.token;
const ledger = (tok: string, query = '') =>
  stack.api.call<{
    entries: { at: string; delta: number; balance: number; reason: string; jobId?: string; note?: string }[];
    nextCursor: string | null;
  }>('GET', `/api/credits/ledger${query}`, { token: tok });

/** `npm run credits -- …` as an operator runs it, pointed at the local stack's DynamoDB Local. */
const credits = (...args: string[]) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/credits.ts', ...args, '--table', stack.tableName], {
    env: { ...process.env, AWS_ENDPOINT_URL_DYNAMODB: stack.dynamodbEndpoint },
  });

describe('credits over HTTP', () => {
  it('gives a new user the sign-up credits and lists the debit and refund of their jobs newest first', async () => {
    const userId = `ledger-${Date.now()}`;
    const tok = await token(userId);
    expect((await stack.api.call('GET', '/api/credits', { token: tok })).body).toEqual({ balance: 3 });

    const ok = await stack.api.submit(tok, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: png }], { scale: 2 });
    expect((await stack.api.waitForJob(tok, ok)).status).toBe('succeeded');
    stack.provider.rejectNextCreate(301, 'PARAMS_INVALID');
    const refused = await stack.api.submit(tok, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: png }], { scale: 2 });
    expect(await stack.api.waitForJob(tok, refused)).toMatchObject({ status: 'failed', refunded: true });

    const reply = await ledger(tok);
    expect(reply.status).toBe(200);
    expect(reply.body.entries.map(({ reason, delta, balance, jobId }) => ({ reason, delta, balance, jobId }))).toEqual([
      { reason: 'refund', delta: 1, balance: 2, jobId: refused },
      { reason: 'debit', delta: -1, balance: 1, jobId: refused },
      { reason: 'debit', delta: -1, balance: 2, jobId: ok },
      { reason: 'signup', delta: 3, balance: 3, jobId: undefined },
    ]);
    expect(reply.body.nextCursor).toBeNull();
    const times = reply.body.entries.map((e) => Date.parse(e.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);

    // Page by page, with the cursor the API hands out.
    const first = await ledger(tok, '?limit=3');
    expect(first.body.entries).toHaveLength(3);
    const rest = await ledger(tok, `?limit=3&cursor=${first.body.nextCursor}`);
    expect(rest.body.entries.map((e) => e.reason)).toEqual(['signup']);
    await assertInvariants(stack);
  }, 60_000);

  it('answers 400 for a bad limit or a cursor it did not issue, 401 without a token, and never shows another user’s entries', async () => {
    const mine = await token(`ledger-own-${Date.now()}`);
    const theirs = await token(`ledger-other-${Date.now()}`);
    await ledger(theirs);
    const theirCursor = (await ledger(theirs, '?limit=1')).body.nextCursor;
    for (const query of ['?limit=0', '?limit=abc', '?limit=101', '?cursor=not-a-cursor', `?cursor=${theirCursor}`]) {
      const reply = await ledger(mine, query);
      expect(reply.status, query).toBe(400);
      expect(reply.body).toMatchObject({ error: 'INVALID_REQUEST', message: expect.any(String) });
    }
    expect((await stack.api.call('GET', '/api/credits/ledger')).status).toBe(401);
    expect((await ledger(mine)).body.entries.map((e) => e.reason)).toEqual(['signup']);
  });

  it('books the local set-balance endpoint as an adjustment, so the ledger still explains the balance', async () => {
    const userId = `ledger-set-${Date.now()}`;
    const tok = await token(userId);
    await ledger(tok); // first use: +3
    expect((await stack.api.call('POST', '/api/local/credits', { body: { userId, balance: 10 } })).body).toEqual({ balance: 10 });
    expect((await ledger(tok)).body.entries.map(({ reason, delta, balance }) => [reason, delta, balance])).toEqual([
      ['adjustment', 7, 10],
      ['signup', 3, 3],
    ]);
  });
});

describe('npm run credits', () => {
  it('grants credits against the local stack’s table as an operator entry the user sees in the ledger', async () => {
    const userId = `ledger-op-${Date.now()}`;
    const tok = await token(userId);
    await ledger(tok);
    const { stdout } = await credits('grant', userId, '5', '--reason', 'Compensação pelo atraso');
    expect(stdout).toContain(`Granted 5 credit(s) to ${userId}`);
    expect(stdout).toContain('balance 8');
    expect((await stack.api.call('GET', '/api/credits', { token: tok })).body).toEqual({ balance: 8 });
    expect((await ledger(tok)).body.entries[0]).toMatchObject({
      reason: 'operator',
      delta: 5,
      balance: 8,
      note: 'Compensação pelo atraso',
    });

    const shown = JSON.parse((await credits('show', userId, '--json')).stdout);
    expect(shown).toMatchObject({ userId, balance: 8, entries: [{ reason: 'operator' }, { reason: 'signup' }] });
  }, 30_000);

  it.each([
    ['no reason', ['grant', 'someone', '5'], /--reason/],
    ['an amount of zero', ['grant', 'someone', '0', '--reason', 'x'], /whole number from 1/],
    ['a negative amount', ['grant', 'someone', '-2', '--reason', 'x'], /unknown option|whole number/],
    ['an unknown command', ['take', 'someone', '5'], /unknown command/],
  ])('refuses %s with exit code 2 and a sentence', async (_name, args, message) => {
    const error = (await credits(...args).then(
      () => null,
      (e: unknown) => e,
    )) as { code: number; stderr: string } | null;
    expect(error?.code).toBe(2);
    expect(error?.stderr).toMatch(message);
  });
});

describe('the audit', () => {
  it('finds every balance equal to the sum of its ledger, and reports one that is not', async () => {
    const check = () => audit({ doc: stack.doc, tableName: stack.tableName, graceMs: 120_000, capacity: 3 });
    const clean = await check();
    expect(clean.ledger.users).toBeGreaterThan(0);
    expect(clean.stragglers.filter((s) => s.kind === 'ledger_mismatch')).toEqual([]);

    const userId = `ledger-tampered-${Date.now()}`;
    await ledger(await token(userId));
    await stack.doc.send(
      new UpdateCommand({
        TableName: stack.tableName,
        Key: { pk: `USER#${userId}`, sk: 'PROFILE' },
        UpdateExpression: 'SET balance = :b',
        ExpressionAttributeValues: { ':b': 99 },
      }),
    );
    expect((await check()).stragglers.filter((s) => s.kind === 'ledger_mismatch')).toEqual([
      expect.objectContaining({ userId, sweeper: 'no', detail: 'balance 99 but its ledger sums to 3' }),
    ]);
  });
});
