import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ENV } from '../../lambdas/env-names';
import { lambdaContext } from '../../local/lambda-context';

// A user pool stand-in: its JWKS served over HTTP, as Cognito publishes it at <issuer>/.well-known/jwks.json.
const pool = await generateKeyPair('RS256');
const stranger = await generateKeyPair('RS256');
const jwk = { ...(await exportJWK(pool.publicKey)), kid: 'pool-key', alg: 'RS256', use: 'sig' };
const server = createServer((req, res) => {
  res.writeHead(req.url === '/pool/.well-known/jwks.json' ? 200 : 404, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ keys: [jwk] }));
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}/pool`;
const CLIENT = 'spa-client';

vi.stubEnv(ENV.authIssuer, issuer);
vi.stubEnv(ENV.authClientId, CLIENT);
const { handler } = await import('../../lambdas/handlers/live-authorizer');

function token(claims: Record<string, unknown>, options: { key?: CryptoKey; issuer?: string; expiresIn?: string } = {}) {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'pool-key' })
    .setSubject('user-123')
    .setIssuer(options.issuer ?? issuer)
    .setIssuedAt()
    .setExpirationTime(options.expiresIn ?? '1h')
    .sign(options.key ?? pool.privateKey);
}

const METHOD_ARN = 'arn:aws:execute-api:eu-west-1:123456789012:abc123/live/$connect';
const authorize = (value: string | undefined) =>
  handler(
    { type: 'REQUEST', methodArn: METHOD_ARN, queryStringParameters: value === undefined ? {} : { token: value } } as never,
    lambdaContext('live-authorizer', 'request-1', 10_000) as never,
  );

describe('the push channel authorizer', () => {
  it("lets in the pool's ID and access tokens issued to the SPA client, as the user they name", async () => {
    for (const claims of [
      { token_use: 'id', aud: CLIENT },
      { token_use: 'access', client_id: CLIENT },
    ]) {
      await expect(authorize(await token(claims))).resolves.toEqual({
        principalId: 'user-123',
        policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: METHOD_ARN }] },
        context: { userId: 'user-123' },
      });
    }
  });

  it('answers Unauthorized to a missing, forged, expired, foreign-issuer or other-client token', async () => {
    const refused = [
      undefined,
      'not.a.jwt',
      await token({ token_use: 'id', aud: CLIENT }, { key: stranger.privateKey }),
      await token({ token_use: 'id', aud: CLIENT }, { expiresIn: '-1m' }),
      await token({ token_use: 'id', aud: CLIENT }, { issuer: `${issuer}-other` }),
      await token({ token_use: 'id', aud: 'another-client' }),
      await token({ token_use: 'access', client_id: 'another-client' }),
    ];
    for (const value of refused) await expect(authorize(value)).rejects.toThrow(/^Unauthorized$/);
  });
});
