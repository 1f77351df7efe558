import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2WithJWTAuthorizer, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { DomainError, InvalidRequest, NotFound, Unauthorized } from '../domain/errors';
import { logger, metrics } from '../logger';
import type { RouteKey } from './routes';

type HttpEvent = APIGatewayProxyEventV2WithJWTAuthorizer;

export interface ApiRequest {
  /** The `sub` claim the JWT authorizer verified; throws 401 when the route had no token. */
  userId(): string;
  /** The body as text (base64 bodies decoded). */
  text(): string;
  json(): unknown;
  path(name: string): string;
  query: Record<string, string | undefined>;
}

export interface ApiResponse {
  status: number;
  body: unknown;
}

export type RouteHandler = (request: ApiRequest) => Promise<ApiResponse>;

export const ok = (body: unknown): ApiResponse => ({ status: 200, body });
export const created = (body: unknown): ApiResponse => ({ status: 201, body });

const json = (statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 => ({
  statusCode,
  headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  body: JSON.stringify(body),
});

/** Named domain errors become `{error, message, ...details}`; anything else is logged and hidden behind a 500. */
const httpErrors = (): MiddlewareObj<HttpEvent, APIGatewayProxyStructuredResultV2> => ({
  onError: (request) => {
    const error = request.error;
    if (error instanceof DomainError) {
      request.response = json(error.status, { error: error.code, message: error.message, ...error.details });
      return;
    }
    logger.error('unhandled error', error as Error);
    request.response = json(500, { error: 'INTERNAL', message: 'Something went wrong on our side; please try again.' });
  },
});

function toRequest(event: HttpEvent): ApiRequest {
  return {
    userId() {
      const sub = event.requestContext.authorizer?.jwt?.claims?.sub;
      if (typeof sub !== 'string' || sub === '') throw new Unauthorized();
      return sub;
    },
    text() {
      return (event.isBase64Encoded && event.body ? Buffer.from(event.body, 'base64').toString('utf8') : event.body) ?? '';
    },
    json() {
      try {
        return JSON.parse(this.text());
      } catch {
        throw new InvalidRequest('The body must be valid JSON.');
      }
    },
    path(name) {
      const value = event.pathParameters?.[name];
      if (!value) throw new NotFound();
      return value;
    },
    query: event.queryStringParameters ?? {},
  };
}

/** The one HTTP entry point: logging, metrics and error mapping in a fixed order, then dispatch on the route key. */
export function httpApi(routes: Record<RouteKey, RouteHandler>) {
  return middy<HttpEvent, APIGatewayProxyStructuredResultV2>()
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics))
    .use(httpErrors())
    .handler(async (event) => {
      const route = routes[event.routeKey as RouteKey];
      if (!route) throw new NotFound('No such route.');
      const response = await route(toRequest(event));
      return json(response.status, response.body);
    });
}

/** Wrapper for event-driven handlers (S3, Step Functions, schedules): same logging and metrics, errors rethrown for retry. */
export function eventHandler<Event, Result>(fn: (event: Event) => Promise<Result>) {
  return middy<Event, Result>().use(injectLambdaContext(logger)).use(logMetrics(metrics)).handler(fn);
}
