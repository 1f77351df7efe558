import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2WithJWTAuthorizer } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { matchRoute } from '../../local/http/api-event';
import { createHttpAdapter } from '../../local/http/request-listener';
import { signLocalToken } from '../../local/jwt-authorizer';

const secret = randomBytes(32);
let server: Server;
let base: string;
let events: APIGatewayProxyEventV2WithJWTAuthorizer[] = [];
/** What the fake api handler answers next. */
let reply: (event: APIGatewayProxyEventV2WithJWTAuthorizer) => Promise<unknown> = async () => ({ statusCode: 200, body: '{}' });
const balances = new Map<string, number>();

beforeAll(async () => {
  const adapter = createHttpAdapter({
    apiHandler: async (event) => {
      events.push(event);
      return reply(event);
    },
    s3Gateway: async (_req, res) => {
      res.writeHead(418);
      res.end('gateway');
    },
    jwtSecret: secret,
    setBalance: async (userId, balance) => {
      balances.set(userId, balance);
      return balance;
    },
    integrationTimeoutMs: 500,
  });
  server = createServer(adapter);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

beforeEach(() => {
  events = [];
  reply = async () => ({ statusCode: 200, body: '{}' });
});

const b64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('route matching', () => {
  it('prefers a literal route over a parameterised one', () => {
    expect(matchRoute('GET', '/api/jobs/active')).toMatchObject({ route: { path: '/api/jobs/active' } });
    expect(matchRoute('GET', '/api/jobs/j-1')).toMatchObject({
      route: { path: '/api/jobs/{jobId}' },
      pathParameters: { jobId: 'j-1' },
    });
  });

  it('tells an unknown path from a known path with another method', () => {
    expect(matchRoute('GET', '/api/nope')).toBe('no-route');
    expect(matchRoute('DELETE', '/api/jobs')).toBe('wrong-method');
    expect(matchRoute('GET', '/api/jobs/')).toBe('no-route');
  });
});

describe('the local API Gateway', () => {
  it('builds a payload 2.0 event like API Gateway for an authorised route', async () => {
    const userId = `user-${randomUUID()}`;
    const token = await signLocalToken(secret, userId, { claims: { groups: ['a', 'b'], admin: true } });
    const response = await fetch(`${base}/api/jobs/job%201?limit=5&tag=x&tag=y`, {
      headers: { authorization: `Bearer ${token}`, 'X-Custom': 'Value', cookie: 'a=1; b=2' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('apigw-requestid')).toBeTruthy();
    const event = events[0] as APIGatewayProxyEventV2WithJWTAuthorizer;
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'GET /api/jobs/{jobId}',
      rawPath: '/api/jobs/job%201',
      rawQueryString: 'limit=5&tag=x&tag=y',
      cookies: ['a=1', 'b=2'],
      queryStringParameters: { limit: '5', tag: 'x,y' },
      pathParameters: { jobId: 'job 1' },
      isBase64Encoded: false,
      requestContext: {
        accountId: '000000000000',
        apiId: 'local',
        domainName: '127.0.0.1',
        routeKey: 'GET /api/jobs/{jobId}',
        stage: '$default',
        http: { method: 'GET', path: '/api/jobs/job%201', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1' },
      },
    });
    expect(event.headers['x-custom']).toBe('Value');
    expect(event.headers.cookie).toBeUndefined();
    expect(event.body).toBeUndefined();
    expect(event.requestContext.time).toMatch(/^\d{2}\/\w{3}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    expect(typeof event.requestContext.timeEpoch).toBe('number');
    const { claims, scopes } = event.requestContext.authorizer.jwt;
    expect(scopes).toBeNull();
    expect(claims).toMatchObject({ sub: userId, iss: 'ghostless-local', aud: 'ghostless', groups: '[a b]', admin: 'true' });
    expect(typeof claims.exp).toBe('string');
  });

  it('passes JSON bodies as text and binary bodies as base64', async () => {
    const token = await signLocalToken(secret, 'u1');
    const headers = { authorization: `Bearer ${token}` };
    await fetch(`${base}/api/uploads`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{"a":1' });
    await fetch(`${base}/api/uploads`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/octet-stream' },
      body: new Uint8Array([0, 1, 2, 255]),
    });
    expect(events[0]).toMatchObject({ body: '{"a":1', isBase64Encoded: false });
    expect(events[1]).toMatchObject({ body: Buffer.from([0, 1, 2, 255]).toString('base64'), isBase64Encoded: true });
  });

  it('calls public routes without an authorizer', async () => {
    await fetch(`${base}/api/health`);
    expect(events[0]?.routeKey).toBe('GET /api/health');
    expect(events[0]?.requestContext.authorizer).toBeUndefined();
  });

  it('writes structured results as given and anything else as 200 JSON', async () => {
    reply = async () => ({ statusCode: 202, headers: { 'x-a': 'b' }, cookies: ['s=1', 't=2'], body: 'hi' });
    const structured = await fetch(`${base}/api/health`);
    expect([structured.status, structured.headers.get('x-a'), await structured.text()]).toEqual([202, 'b', 'hi']);
    expect(structured.headers.getSetCookie()).toEqual(['s=1', 't=2']);
    reply = async () => 'plain';
    const text = await fetch(`${base}/api/health`);
    expect([text.status, text.headers.get('content-type'), await text.text()]).toEqual([200, 'application/json', 'plain']);
    reply = async () => ({ ok: 1 });
    expect(await (await fetch(`${base}/api/health`)).json()).toEqual({ ok: 1 });
    reply = async () => ({ statusCode: 200, isBase64Encoded: true, body: Buffer.from([1, 2, 3]).toString('base64') });
    expect(Buffer.from(await (await fetch(`${base}/api/health`)).arrayBuffer())).toEqual(Buffer.from([1, 2, 3]));
  });

  it('answers 500 when the handler throws and 503 when it outlives the integration timeout', async () => {
    reply = async () => {
      throw new Error('boom');
    };
    const thrown = await fetch(`${base}/api/health`);
    expect([thrown.status, await thrown.json()]).toEqual([500, { message: 'Internal Server Error' }]);
    reply = () => new Promise((resolve) => setTimeout(() => resolve({ statusCode: 200 }), 2000));
    const slow = await fetch(`${base}/api/health`);
    expect([slow.status, await slow.json()]).toEqual([503, { message: 'Service Unavailable' }]);
  });

  it('rejects missing, malformed, unsigned, wrongly signed and expired tokens with 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: 'u1', iss: 'ghostless-local', aud: 'ghostless', iat: now, exp: now + 600 };
    const cases: Record<string, string | undefined> = {
      missing: undefined,
      notBearer: `Basic ${Buffer.from('u:p').toString('base64')}`,
      malformed: 'Bearer not.a.jwt',
      algNone: `Bearer ${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims)}.`,
      wrongKey: `Bearer ${await signLocalToken(randomBytes(32), 'u1')}`,
      expired: `Bearer ${await signLocalToken(secret, 'u1', { expiresInSeconds: -60 })}`,
    };
    for (const [name, authorization] of Object.entries(cases)) {
      const response = await fetch(`${base}/api/credits`, { headers: authorization ? { authorization } : {} });
      const body = (await response.json()) as { error: string; message: string };
      expect([name, response.status, body.error]).toEqual([name, 401, 'UNAUTHORIZED']);
      expect(body.message.length).toBeGreaterThan(0);
    }
    expect(events).toHaveLength(0);
  });

  it('rejects a token without exp, or for another issuer or audience', async () => {
    const { SignJWT } = await import('jose');
    const noExp = await new SignJWT({ sub: 'u1' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('ghostless-local')
      .setAudience('ghostless')
      .sign(secret);
    const otherIssuer = await new SignJWT({ sub: 'u1' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('someone-else')
      .setAudience('ghostless')
      .setExpirationTime('1h')
      .sign(secret);
    const otherAudience = await new SignJWT({ sub: 'u1' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('ghostless-local')
      .setAudience('other')
      .setExpirationTime('1h')
      .sign(secret);
    for (const token of [noExp, otherIssuer, otherAudience]) {
      const response = await fetch(`${base}/api/credits`, { headers: { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(401);
    }
  });

  it('answers unknown API routes and wrong methods with 404 NOT_FOUND', async () => {
    for (const [method, path] of [
      ['GET', '/api/nope'],
      ['DELETE', '/api/jobs'],
      ['GET', '/api'],
    ] as const) {
      const response = await fetch(`${base}${path}`, { method });
      expect([path, response.status, ((await response.json()) as { error: string }).error]).toEqual([path, 404, 'NOT_FOUND']);
    }
  });

  it('issues local tokens the authorizer accepts and validates the user id', async () => {
    const userId = `a.b-c_d@${randomUUID()}`.slice(0, 64);
    const issued = await fetch(`${base}/api/local/token`, { method: 'POST', body: JSON.stringify({ userId }) });
    const { token } = (await issued.json()) as { token: string };
    const use = await fetch(`${base}/api/credits`, { headers: { authorization: `Bearer ${token}` } });
    expect(use.status).toBe(200);
    expect(events[0]?.requestContext.authorizer.jwt.claims.sub).toBe(userId);
    const [, payload] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload as string, 'base64url').toString());
    expect(claims.exp - claims.iat).toBe(12 * 3600);
    for (const body of ['{"userId":""}', '{"userId":"has space"}', `{"userId":"${'x'.repeat(65)}"}`, '{}', 'nope']) {
      const bad = await fetch(`${base}/api/local/token`, { method: 'POST', body });
      expect([body, bad.status, ((await bad.json()) as { error: string }).error]).toEqual([body, 400, 'INVALID_REQUEST']);
    }
  });

  it('sets balances through the local credits endpoint and validates them', async () => {
    const userId = `u-${randomUUID()}`;
    const ok = await fetch(`${base}/api/local/credits`, { method: 'POST', body: JSON.stringify({ userId, balance: 7 }) });
    expect([ok.status, await ok.json()]).toEqual([200, { balance: 7 }]);
    expect(balances.get(userId)).toBe(7);
    for (const balance of [-1, 1.5, '3', null]) {
      const bad = await fetch(`${base}/api/local/credits`, { method: 'POST', body: JSON.stringify({ userId, balance }) });
      expect([balance, bad.status]).toEqual([balance, 400]);
    }
  });

  it('hands /s3 paths to the S3 gateway', async () => {
    const response = await fetch(`${base}/s3/bucket/key`);
    expect([response.status, await response.text()]).toEqual([418, 'gateway']);
  });

  it('serves the web app with an index.html fallback for client-side routes', async () => {
    const home = await fetch(`${base}/`);
    expect(home.status).toBe(200);
    expect(home.headers.get('content-type')).toContain('text/html');
    const html = await home.text();
    expect(html).toContain('Ghostless');
    const deep = await fetch(`${base}/jobs/123`);
    expect([deep.status, await deep.text()]).toEqual([200, html]);
    expect((await fetch(`${base}/assets/missing.js`)).status).toBe(404);
    expect((await fetch(`${base}/..%2F..%2Fpackage.json`)).status).not.toBe(500);
    const traversal = await fetch(`${base}/..%2Fpackage.json`);
    expect(await traversal.text()).not.toContain('"name": "ghostless"');
    expect((await fetch(`${base}/`, { method: 'POST' })).status).toBe(405);
  });

  it('caches hashed assets for a year and revalidates the page by its ETag', async () => {
    const home = await fetch(`${base}/`);
    expect(home.headers.get('cache-control')).toBe('no-cache');
    const script = /src="\/(assets\/[^"]+\.js)"/.exec(await home.text())?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${base}/${script}`);
    expect([asset.status, asset.headers.get('cache-control')]).toEqual([200, 'public, max-age=31536000, immutable']);
    const etag = home.headers.get('etag') ?? '';
    expect(etag).not.toBe('');
    expect((await fetch(`${base}/`, { headers: { 'if-none-match': etag } })).status).toBe(304);
  });
});
