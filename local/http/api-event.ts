import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2WithJWTAuthorizer } from 'aws-lambda';
import { ROUTES } from '../../lambdas/handlers/routes';
import { LOCAL_ACCOUNT_ID } from '../lambda-context';
import { safeDecode } from './request-io';

/**
 * API Gateway HTTP API, payload format 2.0, as the api Lambda sees it: which route a request matches, the event
 * built from a Node request, and how the Lambda's result becomes the HTTP response.
 */

/** One route of the HTTP API (from the template's AWS::ApiGatewayV2::Route); `auth` = it has a JWT authorizer. */
export interface Route {
  method: string;
  path: string;
  auth: boolean;
  /** The integration's function (its ARN), for the local stack to invoke. */
  target?: string;
}
const routeKey = (route: Route) => `${route.method} ${route.path}`;

const ACCOUNT_ID = LOCAL_ACCOUNT_ID;
const API_ID = 'local';

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
