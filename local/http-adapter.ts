import { randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, Context } from 'aws-lambda';
import { ROUTES } from '../lambdas/handlers/routes';
import { isRefusal, LocalAccounts, refuse } from './accounts';
import { signLocalToken, Unauthorized, USER_ID_PATTERN, verifyBearer } from './auth';
import { LOCAL_ACCOUNT_ID, lambdaContext } from './lambda-context';
import type { S3Gateway } from './s3-gateway';

/**
 * The local stand-in for API Gateway (HTTP API, payload format 2.0) plus the SPA and the S3 gateway:
 * `/api/*` → JWT authorizer + the api Lambda handler, `/s3/*` → S3 gateway, anything else → static web.
 */
export type ApiHandler = (event: APIGatewayProxyEventV2WithJWTAuthorizer, context: Context, route: Route) => Promise<unknown>;

/** One route of the HTTP API (from the template's AWS::ApiGatewayV2::Route); `auth` = it has a JWT authorizer. */
export interface Route {
  method: string;
  path: string;
  auth: boolean;
  /** The integration's function (its ARN), for the local stack to invoke. */
  target?: string;
}
const routeKey = (route: Route) => `${route.method} ${route.path}`;

export interface HttpAdapterOptions {
  apiHandler: ApiHandler;
  /** The API's routes; defaults to the app's own route table. */
  routes?: readonly Route[];
  s3Gateway: S3Gateway;
  jwtSecret: Uint8Array;
  /** Backs `/api/local/account/*`, `GET /api/local/mailbox` and the authorizer's sign-out-everywhere check (default: in memory). */
  accounts?: LocalAccounts;
  /** Backs `POST /api/local/credits`. */
  setBalance: (userId: string, balance: number) => Promise<number>;
  /** Static files; defaults to `web/dist` when it exists, else `web/`. */
  webRoot?: () => string;
  /** API Gateway's integration timeout (30 s): a slower handler gets 503 as on AWS. */
  integrationTimeoutMs?: number;
  region?: string;
}

const ACCOUNT_ID = LOCAL_ACCOUNT_ID;
const API_ID = 'local';
const FUNCTION_NAME = 'ghostless-api';
/** HTTP API's payload limit. */
const MAX_BODY_BYTES = 10 * 1024 * 1024;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.mp4': 'video/mp4',
};

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const defaultWebRoot = (): string => {
  const dist = join(ROOT, 'web', 'dist');
  return existsSync(join(dist, 'index.html')) ? dist : join(ROOT, 'web');
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Matches a path against a `{param}` template; literal routes win over parameterised ones, as in API Gateway. */
export function matchRoute(
  method: string,
  rawPath: string,
  routes: readonly Route[] = ROUTES,
): { route: Route; pathParameters: Record<string, string> } | 'no-route' | 'wrong-method' {
  const segments = rawPath.split('/');
  const matches: { route: Route; pathParameters: Record<string, string>; params: number }[] = [];
  for (const route of routes) {
    const template = route.path.split('/');
    if (template.length !== segments.length) continue;
    const pathParameters: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < template.length && ok; i++) {
      const part = template[i] as string;
      const actual = segments[i] as string;
      const param = /^\{(.+)\}$/.exec(part);
      if (param) {
        if (actual === '') ok = false;
        else pathParameters[param[1] as string] = safeDecode(actual);
      } else if (part !== actual) ok = false;
    }
    if (ok) matches.push({ route, pathParameters, params: Object.keys(pathParameters).length });
  }
  if (matches.length === 0) return 'no-route';
  const forMethod = matches.filter((m) => m.route.method === method).sort((a, b) => a.params - b.params);
  return forMethod[0] ?? 'wrong-method';
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolvePromise, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(new HttpError(413, 'PAYLOAD_TOO_LARGE', 'Request Entity Too Large'));
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolvePromise(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Content types API Gateway passes as text; every other body arrives base64-encoded. */
function isTextContentType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const type = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  return (
    type.startsWith('text/') ||
    /^application\/([\w.-]+\+)?(json|xml)$/.test(type) ||
    type === 'application/javascript' ||
    type === 'application/x-www-form-urlencoded'
  );
}

/** `12/Mar/2020:19:03:58 +0000`, API Gateway's requestContext.time. */
function apiGatewayTime(date: Date): string {
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:${p(date.getUTCHours())}:${p(
    date.getUTCMinutes(),
  )}:${p(date.getUTCSeconds())} +0000`;
}

export interface BuildEventInput {
  req: IncomingMessage;
  route: Route;
  pathParameters: Record<string, string>;
  rawPath: string;
  rawQueryString: string;
  body: Buffer;
  authorizer?: { claims: Record<string, string>; scopes: string[] | null };
  requestId: string;
  now?: Date;
}

/** Builds the payload-format-2.0 event API Gateway would send for this request. */
export function buildHttpApiEvent(input: BuildEventInput): APIGatewayProxyEventV2WithJWTAuthorizer {
  const { req, route, rawPath, rawQueryString, body, requestId } = input;
  const now = input.now ?? new Date();
  const sourceIp = (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
  const headers: Record<string, string> = {};
  let cookies: string[] = [];
  for (const [name, values] of Object.entries(req.headersDistinct)) {
    if (!values) continue;
    if (name === 'cookie') {
      cookies = values.flatMap((v) =>
        v
          .split(';')
          .map((c) => c.trim())
          .filter(Boolean),
      );
      continue;
    }
    headers[name] = values.join(',');
  }
  const host = (headers.host ?? '127.0.0.1').replace(/:\d+$/, '');
  headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${sourceIp}` : sourceIp;
  headers['x-forwarded-proto'] ??= 'http';
  headers['x-forwarded-port'] ??= String(req.socket.localPort ?? '');
  headers['x-amzn-trace-id'] ??= `Root=1-${Math.floor(now.getTime() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;

  let queryStringParameters: Record<string, string> | undefined;
  if (rawQueryString) {
    queryStringParameters = {};
    for (const [name, value] of new URLSearchParams(rawQueryString)) {
      queryStringParameters[name] = name in queryStringParameters ? `${queryStringParameters[name]},${value}` : value;
    }
  }
  const key = routeKey(route);
  const hasBody = body.length > 0;
  const text = isTextContentType(headers['content-type']);
  const event: APIGatewayProxyEventV2WithJWTAuthorizer = {
    version: '2.0',
    routeKey: key,
    rawPath,
    rawQueryString,
    ...(cookies.length ? { cookies } : {}),
    headers,
    ...(queryStringParameters ? { queryStringParameters } : {}),
    requestContext: {
      accountId: ACCOUNT_ID,
      apiId: API_ID,
      domainName: host,
      domainPrefix: host.split('.')[0] ?? host,
      http: {
        method: req.method ?? 'GET',
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp,
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: key,
      stage: '$default',
      time: apiGatewayTime(now),
      timeEpoch: now.getTime(),
      ...(input.authorizer
        ? {
            authorizer: {
              principalId: '',
              integrationLatency: 0,
              jwt: { claims: input.authorizer.claims, scopes: input.authorizer.scopes as string[] },
            },
          }
        : {}),
    } as APIGatewayProxyEventV2WithJWTAuthorizer['requestContext'],
    ...(Object.keys(input.pathParameters).length ? { pathParameters: input.pathParameters } : {}),
    ...(hasBody ? { body: text ? body.toString('utf8') : body.toString('base64') } : {}),
    isBase64Encoded: hasBody && !text,
  };
  return event;
}

/** Writes a Lambda result as API Gateway (payload 2.0) would: structured results as given, anything else as 200 JSON. */
export function writeLambdaResult(res: ServerResponse, result: unknown, extraHeaders: Record<string, string> = {}): void {
  if (result && typeof result === 'object' && 'statusCode' in result) {
    const r = result as {
      statusCode: number;
      headers?: Record<string, string | number | boolean>;
      cookies?: string[];
      body?: string;
      isBase64Encoded?: boolean;
    };
    const body = r.body === undefined ? Buffer.alloc(0) : Buffer.from(r.body, r.isBase64Encoded ? 'base64' : 'utf8');
    const headers: Record<string, string | string[]> = { ...extraHeaders };
    for (const [name, value] of Object.entries(r.headers ?? {})) headers[name.toLowerCase()] = String(value);
    if (r.cookies?.length) headers['set-cookie'] = r.cookies;
    headers['content-length'] = String(body.length);
    res.writeHead(r.statusCode, headers);
    res.end(body);
    return;
  }
  const text = typeof result === 'string' ? result : JSON.stringify(result ?? null);
  res.writeHead(200, { ...extraHeaders, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function createHttpAdapter(options: HttpAdapterOptions): RequestListener {
  const webRoot = options.webRoot ?? defaultWebRoot;
  const timeoutMs = options.integrationTimeoutMs ?? 30_000;
  const region = options.region ?? 'us-east-1';
  const accounts = options.accounts ?? new LocalAccounts();
  const generationOf = (sub: string) => accounts.generation(sub);
  const tokenFor = (sub: string, claims: Record<string, unknown> = {}) =>
    signLocalToken(options.jwtSecret, sub, { claims: { ...claims, gen: accounts.generation(sub) } });

  /** The local account flows (the Cognito user pool's stand-in): JSON in, JSON out, refusals as `{error: <Cognito type>}`. */
  async function handleAccount(req: IncomingMessage, res: ServerResponse, action: string) {
    if (action === 'sign-out-everywhere') {
      let sub: string;
      try {
        sub = (await verifyBearer(req.headers.authorization, options.jwtSecret, generationOf)).claims.sub as string;
      } catch (error) {
        if (!(error instanceof Unauthorized)) throw error;
        req.resume();
        sendJson(res, 401, { error: 'NotAuthorizedException', message: error.message }, { 'www-authenticate': 'Bearer' });
        return;
      }
      req.resume();
      await accounts.signOutEverywhere(sub);
      sendJson(res, 200, {}, { 'cache-control': 'no-store' });
      return;
    }
    const input = parseJsonObject(await readBody(req));
    const text = (name: string) => {
      const value = input[name];
      if (typeof value !== 'string' || !value) throw refuse('InvalidParameterException', `${name} is required.`);
      return value;
    };
    let answer: unknown = {};
    switch (action) {
      case 'sign-up':
        answer = await accounts.signUp(text('email'), text('password'));
        break;
      case 'confirm':
        await accounts.confirm(text('email'), text('code'));
        break;
      case 'resend-code':
        await accounts.resendCode(text('email'));
        break;
      case 'sign-in': {
        const { sub, email } = accounts.signIn(text('email'), text('password'));
        answer = { userId: sub, email, token: await tokenFor(sub, { email }) };
        break;
      }
      case 'forgot-password':
        await accounts.forgotPassword(text('email'));
        break;
      case 'reset-password':
        await accounts.resetPassword(text('email'), text('code'), text('password'));
        break;
      default:
        throw new HttpError(404, 'NOT_FOUND', `No route for POST /api/local/account/${action}.`);
    }
    sendJson(res, 200, answer, { 'cache-control': 'no-store' });
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, rawPath: string, rawQueryString: string) {
    const method = req.method ?? 'GET';
    const requestId = `${randomBytes(6).toString('base64url')}=`;
    const apigwHeaders = { 'apigw-requestid': requestId };

    if (rawPath.startsWith('/api/local/account/')) {
      if (method !== 'POST') throw new HttpError(404, 'NOT_FOUND', `No route for ${method} ${rawPath}.`);
      try {
        await handleAccount(req, res, rawPath.slice('/api/local/account/'.length));
      } catch (error) {
        if (!isRefusal(error)) throw error;
        sendJson(res, 400, { error: error.code, message: error.message }, { 'cache-control': 'no-store' });
      }
      return;
    }
    if (rawPath === '/api/local/mailbox') {
      if (method !== 'GET') throw new HttpError(404, 'NOT_FOUND', `No route for ${method} ${rawPath}.`);
      const email = new URLSearchParams(rawQueryString).get('email') ?? '';
      sendJson(res, 200, { messages: accounts.mailbox(email) }, { 'cache-control': 'no-store' });
      return;
    }
    if (rawPath === '/api/local/token' || rawPath === '/api/local/credits') {
      if (method !== 'POST') throw new HttpError(404, 'NOT_FOUND', `No route for ${method} ${rawPath}.`);
      const input = parseJsonObject(await readBody(req));
      const userId = input.userId;
      if (typeof userId !== 'string' || !USER_ID_PATTERN.test(userId)) {
        throw new HttpError(400, 'INVALID_REQUEST', 'userId must be 1 to 64 characters of letters, digits, "_", "-", "." or "@".');
      }
      if (rawPath === '/api/local/token') {
        sendJson(res, 200, { token: await tokenFor(userId) }, { 'cache-control': 'no-store' });
        return;
      }
      const balance = input.balance;
      if (typeof balance !== 'number' || !Number.isSafeInteger(balance) || balance < 0) {
        throw new HttpError(400, 'INVALID_REQUEST', 'balance must be a non-negative whole number.');
      }
      sendJson(res, 200, { balance: await options.setBalance(userId, balance) }, { 'cache-control': 'no-store' });
      return;
    }

    const match = matchRoute(method, rawPath, options.routes);
    if (match === 'no-route' || match === 'wrong-method') {
      req.resume();
      // API Gateway answers an unmatched method on a known path with 404 as well.
      throw new HttpError(404, 'NOT_FOUND', `No route for ${method} ${rawPath}.`);
    }
    let authorizer: BuildEventInput['authorizer'];
    if (match.route.auth) {
      try {
        authorizer = await verifyBearer(req.headers.authorization, options.jwtSecret, generationOf);
      } catch (error) {
        if (!(error instanceof Unauthorized)) throw error;
        req.resume();
        sendJson(res, 401, { error: 'UNAUTHORIZED', message: error.message }, { ...apigwHeaders, 'www-authenticate': 'Bearer' });
        return;
      }
    }
    const body = await readBody(req);
    const event = buildHttpApiEvent({
      req,
      route: match.route,
      pathParameters: match.pathParameters,
      rawPath,
      rawQueryString,
      body,
      authorizer,
      requestId,
    });
    const context = lambdaContext(FUNCTION_NAME, randomUUID(), timeoutMs, region);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((done) => {
      timer = setTimeout(() => done('timeout'), timeoutMs);
    });
    let result: unknown;
    try {
      result = await Promise.race([options.apiHandler(event, context, match.route), timeout]);
    } catch (error) {
      console.error(`[api] ${match.route.method} ${match.route.path} threw`, error);
      sendJson(res, 500, { message: 'Internal Server Error' }, apigwHeaders);
      return;
    } finally {
      clearTimeout(timer);
    }
    if (result === 'timeout') {
      console.error(`[api] ${match.route.method} ${match.route.path} did not answer within ${timeoutMs} ms`);
      sendJson(res, 503, { message: 'Service Unavailable' }, apigwHeaders);
      return;
    }
    writeLambdaResult(res, result, apigwHeaders);
  }

  async function handleStatic(req: IncomingMessage, res: ServerResponse, rawPath: string) {
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      res.end('Method Not Allowed');
      return;
    }
    const root = resolve(webRoot());
    const relative = normalize(safeDecode(rawPath)).replace(/^([/\\])+/, '');
    let file = resolve(root, relative);
    if (file !== root && !file.startsWith(root + sep)) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('Not Found');
      return;
    }
    let info = await stat(file).catch(() => undefined);
    if (info?.isDirectory()) {
      file = join(file, 'index.html');
      info = await stat(file).catch(() => undefined);
    }
    if (!info?.isFile()) {
      // SPA fallback: client-side routes get index.html; missing assets (with an extension) stay 404.
      if (extname(relative) && extname(relative) !== '.html') {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('Not Found');
        return;
      }
      file = join(root, 'index.html');
      info = await stat(file).catch(() => undefined);
      if (!info?.isFile()) {
        res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('Not Found');
        return;
      }
    }
    const isHtml = extname(file) === '.html';
    res.writeHead(200, {
      'content-type': CONTENT_TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'content-length': info.size,
      'cache-control': isHtml || !/[.-][0-9a-zA-Z_-]{8,}\.\w+$/.test(file) ? 'no-cache' : 'public, max-age=31536000, immutable',
    });
    if (method === 'HEAD') {
      res.end();
      return;
    }
    createReadStream(file)
      .on('error', () => res.destroy())
      .pipe(res);
  }

  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q === -1 ? url : url.slice(0, q);
    const rawQueryString = q === -1 ? '' : url.slice(q + 1);
    let work: Promise<void>;
    if (rawPath === '/api' || rawPath.startsWith('/api/')) work = handleApi(req, res, rawPath, rawQueryString);
    else if (rawPath === '/s3' || rawPath.startsWith('/s3/')) work = options.s3Gateway(req, res);
    else work = handleStatic(req, res, rawPath);
    work.catch((error) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof HttpError) {
        req.resume();
        sendJson(res, error.status, { error: error.code, message: error.message });
        return;
      }
      console.error('[local] request failed', error);
      sendJson(res, 500, { message: 'Internal Server Error' });
    });
  };
}

function parseJsonObject(body: Buffer): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'INVALID_REQUEST', 'The body must be valid JSON.');
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new HttpError(400, 'INVALID_REQUEST', 'The body must be a JSON object.');
  }
  return value as Record<string, unknown>;
}
