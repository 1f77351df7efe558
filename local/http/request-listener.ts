import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, Context } from 'aws-lambda';
import { Unauthorized, verifyBearer } from '../jwt-authorizer';
import { lambdaContext } from '../lambda-context';
import type { S3Gateway } from '../s3-gateway';
import { type BuildEventInput, buildHttpApiEvent, matchRoute, type Route, writeLambdaResult } from './api-event';
import { isLocalRoute, type LocalRoutesOptions, localRoutes } from './local-routes';
import { HttpError, readBody, sendJson } from './request-io';
import { defaultWebRoot, serveStaticFile } from './static-files';

/**
 * The local stand-in for API Gateway (HTTP API, payload format 2.0) plus the SPA and the S3 gateway:
 * `/api/*` → JWT authorizer + the api Lambda handler, `/s3/*` → S3 gateway, anything else → static web.
 */
type ApiHandler = (event: APIGatewayProxyEventV2WithJWTAuthorizer, context: Context, route: Route) => Promise<unknown>;

export interface HttpAdapterOptions extends LocalRoutesOptions {
  apiHandler: ApiHandler;
  /** The API's routes; defaults to the app's own route table. */
  routes?: readonly Route[];
  s3Gateway: S3Gateway;
  /** Static files; defaults to `web/dist` when it exists, else `web/`. */
  webRoot?: () => string;
  /** API Gateway's integration timeout (30 s): a slower handler gets 503 as on AWS. */
  integrationTimeoutMs?: number;
  region?: string;
}

const FUNCTION_NAME = 'ghostless-api';

export function createHttpAdapter(options: HttpAdapterOptions): RequestListener {
  const webRoot = options.webRoot ?? defaultWebRoot;
  const timeoutMs = options.integrationTimeoutMs ?? 30_000;
  const region = options.region ?? 'us-east-1';
  const local = localRoutes(options);

  async function handleApi(req: IncomingMessage, res: ServerResponse, rawPath: string, rawQueryString: string) {
    const method = req.method ?? 'GET';
    const requestId = `${randomBytes(6).toString('base64url')}=`;
    const apigwHeaders = { 'apigw-requestid': requestId };

    if (isLocalRoute(rawPath)) {
      await local.handle(req, res, rawPath, rawQueryString);
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
        authorizer = await verifyBearer(req.headers.authorization, options.jwtSecret, local.generationOf);
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

  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q === -1 ? url : url.slice(0, q);
    const rawQueryString = q === -1 ? '' : url.slice(q + 1);
    let work: Promise<void>;
    if (rawPath === '/api' || rawPath.startsWith('/api/')) work = handleApi(req, res, rawPath, rawQueryString);
    else if (rawPath === '/s3' || rawPath.startsWith('/s3/')) work = options.s3Gateway(req, res);
    else work = serveStaticFile(req, res, webRoot);
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
