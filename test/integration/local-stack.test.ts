import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { vapidKeysFrom } from '../../lambdas/adapters/web-push-sender';
import { signLocalToken } from '../../local/jwt-authorizer';
import { type LocalStack, startLocalStack } from '../../local/local-stack';

let stack: LocalStack;

beforeAll(async () => {
  stack = await startLocalStack({ port: 0, inMemory: true });
});

afterAll(async () => {
  const dataDir = stack?.dataDir;
  await stack?.stop();
  if (dataDir) expect(existsSync(dataDir)).toBe(false);
});

const b64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

async function tokenFor(userId: string): Promise<string> {
  const response = await fetch(`${stack.url}/api/local/token`, { method: 'POST', body: JSON.stringify({ userId }) });
  expect(response.status).toBe(200);
  return ((await response.json()) as { token: string }).token;
}

describe('the local stack', () => {
  it('answers the health check', async () => {
    const response = await fetch(`${stack.url}/api/health`);
    expect([response.status, await response.json()]).toEqual([200, { ok: true }]);
  });

  it('keeps its JWT key in the data directory', () => {
    const stored = readFileSync(join(stack.dataDir, 'jwt-secret'), 'utf8').trim();
    expect(Buffer.from(stored, 'base64url')).toEqual(Buffer.from(stack.jwtSecret));
  });

  it('generates the VAPID secret at its first start, keeps it in the data directory, and serves the public key derived from it', async () => {
    const stored = JSON.parse(readFileSync(join(stack.dataDir, 'secrets.json'), 'utf8')) as Record<string, string>;
    const [name, value] = Object.entries(stored).find(([secret]) => secret.startsWith('VapidKey')) ?? [];
    expect(name).toBeDefined();
    const response = await fetch(`${stack.url}/api/push/key`, { headers: { authorization: `Bearer ${await tokenFor('vapid-reader')}` } });
    expect(await response.json()).toEqual({ publicKey: vapidKeysFrom(value as string).publicKey });
  });

  it('rejects missing, malformed, alg-none, wrong-key and expired tokens with 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: `u-${randomUUID()}`, iss: 'ghostless-local', aud: 'ghostless', iat: now, exp: now + 600 };
    const cases: Record<string, string | undefined> = {
      missing: undefined,
      malformed: 'Bearer abc.def',
      algNone: `Bearer ${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`,
      wrongKey: `Bearer ${await signLocalToken(randomBytes(32), claims.sub)}`,
      expired: `Bearer ${await signLocalToken(stack.jwtSecret, claims.sub, { expiresInSeconds: -1 })}`,
    };
    for (const [name, authorization] of Object.entries(cases)) {
      const response = await fetch(`${stack.url}/api/credits`, { headers: authorization ? { authorization } : {} });
      const body = (await response.json()) as { error: string };
      expect([name, response.status, body.error]).toEqual([name, 401, 'UNAUTHORIZED']);
    }
  });

  it('issues tokens that the API accepts and sets balances through the local credits endpoint', async () => {
    const userId = `u-${randomUUID()}`;
    const token = await tokenFor(userId);
    const set = await fetch(`${stack.url}/api/local/credits`, { method: 'POST', body: JSON.stringify({ userId, balance: 12 }) });
    expect([set.status, await set.json()]).toEqual([200, { balance: 12 }]);
    const credits = await fetch(`${stack.url}/api/credits`, { headers: { authorization: `Bearer ${token}` } });
    expect(credits.status).toBe(200);
    expect(await credits.json()).toMatchObject({ balance: 12 });
  });

  it('answers an unknown API route with 404 NOT_FOUND', async () => {
    const response = await fetch(`${stack.url}/api/does-not-exist`);
    expect([response.status, ((await response.json()) as { error: string }).error]).toEqual([404, 'NOT_FOUND']);
  });

  it('accepts an upload through the presigned POST and hands the stored input to the S3 event handler', async () => {
    const userId = `u-${randomUUID()}`;
    const token = await tokenFor(userId);
    await fetch(`${stack.url}/api/local/credits`, { method: 'POST', body: JSON.stringify({ userId, balance: 5 }) });
    const png = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC', 'base64');
    const requested = await fetch(`${stack.url}/api/uploads`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        tool: 'upscale-image',
        params: { scale: 2 },
        files: [{ slot: 'image', contentType: 'image/png', size: png.length }],
      }),
    });
    expect(requested.status).toBe(201);
    const { jobId, uploads } = (await requested.json()) as {
      jobId: string;
      uploads: { url: string; fields: Record<string, string> }[];
    };
    const upload = uploads[0] as { url: string; fields: Record<string, string> };
    expect(upload.url).toBe(`${stack.url}/s3/${stack.bucketName}`);

    const form = new FormData();
    for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
    form.append('file', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'pixel.png');
    const stored = await fetch(upload.url, { method: 'POST', body: form });
    expect(stored.status).toBe(204);

    // The S3 notification reaches the s3-event handler, which records the input and admits the job.
    await expect
      .poll(
        async () => {
          const response = await fetch(`${stack.url}/api/jobs/${jobId}`, { headers: { authorization: `Bearer ${token}` } });
          return response.status;
        },
        { timeout: 10_000, interval: 200 },
      )
      .toBe(200);
  });
});
