import { createHmac } from 'node:crypto';
import AuthenticationHelper from 'amazon-cognito-identity-js/lib/AuthenticationHelper';
import BigInteger from 'amazon-cognito-identity-js/lib/BigInteger';
import DateHelper from 'amazon-cognito-identity-js/lib/DateHelper';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { srpClient } from '../../web/src/srp';

/**
 * The SPA's SRP sign-in (web/src/srp.ts) against AWS's own client, amazon-cognito-identity-js: the same secret
 * exponent, server challenge, password and clock must give the same SRP_A, the same TIMESTAMP and the same
 * PASSWORD_CLAIM_SIGNATURE. The library does the math; its CognitoUser signs exactly as below (lib/CognitoUser.js).
 */
const POOL_ID = 'us-east-1_Gh0stLess';
const POOL_NAME = 'Gh0stLess';

/** Deterministic bytes (a counter through SHA-256 would do too; any fixed bytes make a known answer). */
const bytes = (seed: number, length: number) => Uint8Array.from({ length }, (_, i) => (seed * 31 + i * 7) % 256);
const hex = (value: Uint8Array) => Buffer.from(value).toString('hex');

async function awsAnswer(
  aBytes: Uint8Array,
  challenge: { SALT: string; SRP_B: string; SECRET_BLOCK: string; USER_ID_FOR_SRP: string },
  password: string,
) {
  const helper = new AuthenticationHelper(POOL_NAME);
  helper.smallAValue = new BigInteger(hex(aBytes), 16);
  helper.largeAValue = undefined;
  const A = await new Promise<string>((done) => helper.getLargeAValue((_e, value) => done(value.toString(16))));
  const big = (h: string) => new BigInteger(h, 16);
  const key = await new Promise<Buffer>((done, fail) =>
    helper.getPasswordAuthenticationKey(challenge.USER_ID_FOR_SRP, password, big(challenge.SRP_B), big(challenge.SALT), (error, k) =>
      error ? fail(error) : done(k),
    ),
  );
  const timestamp = new DateHelper().getNowString();
  const message = Buffer.concat([
    Buffer.from(POOL_NAME, 'utf8'),
    Buffer.from(challenge.USER_ID_FOR_SRP, 'utf8'),
    Buffer.from(challenge.SECRET_BLOCK, 'base64'),
    Buffer.from(timestamp, 'utf8'),
  ]);
  return { A, timestamp, signature: createHmac('sha256', key).update(message).digest('base64') };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('SRP sign-in, known answers from amazon-cognito-identity-js', () => {
  const cases = [
    { at: '2026-11-30T08:05:03.000Z', seed: 1, user: 'b3f1c2d4-0000-4000-8000-000000000001', password: 'Corret0-Cavalo!' },
    { at: '2026-01-04T23:59:59.000Z', seed: 2, user: 'maria.conceicao@example.com', password: 'Sênha forte 1!' },
    { at: '2027-02-28T00:00:07.000Z', seed: 3, user: 'a', password: 'x' },
  ];

  it.each(cases)('gives the same SRP_A, timestamp and signature as AWS’s client ($at)', async ({ at, seed, user, password }) => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date(at));
    const aBytes = bytes(seed, 128);
    // A server's B = g^b mod N for some b; the salt and secret block are opaque to the client.
    const server = srpClient(POOL_ID, () => bytes(seed + 100, 128));
    const challenge = {
      SALT: hex(bytes(seed + 200, 16)),
      SRP_B: server.A,
      SECRET_BLOCK: Buffer.from(bytes(seed + 300, 96)).toString('base64'),
      USER_ID_FOR_SRP: user,
    };

    const ours = srpClient(POOL_ID, () => aBytes);
    const answer = await ours.respond(challenge, password, new Date(at));
    const aws = await awsAnswer(aBytes, challenge, password);

    expect(ours.A).toBe(aws.A);
    expect(answer.TIMESTAMP).toBe(aws.timestamp);
    expect(answer.PASSWORD_CLAIM_SIGNATURE).toBe(aws.signature);
    expect(answer).toMatchObject({ USERNAME: user, PASSWORD_CLAIM_SECRET_BLOCK: challenge.SECRET_BLOCK });
  });
});
