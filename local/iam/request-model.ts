import type { AwsEnvironment } from './environment';

/** The services the gateway fronts, named as the gateway's endpoints are. */
export type GatewayService = 'dynamodb' | 's3' | 'sfn' | 'secretsmanager' | 'sqs' | 'execute-api';

/** An AWS API HTTP request as the gateway received it. `path` is raw (still URL-encoded), `query` without the `?`. */
export interface AwsHttpRequest {
  service: GatewayService;
  method: string;
  path: string;
  query: string;
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
  /** The body, for the JSON protocols only (S3 bodies are streamed and never needed to authorize). */
  body?: string;
}

/** One IAM authorization check AWS performs for a request. */
export interface AuthorizationCheck {
  action: string;
  resource: string;
}

export interface DescribeOptions extends Partial<AwsEnvironment> {
  /** The state machine that issued a task token (SendTask*): AWS authorizes those calls against it. */
  taskTokenOwner?: (taskToken: string) => string | undefined;
}

export interface DescribeContext extends AwsEnvironment {
  taskTokenOwner?: (taskToken: string) => string | undefined;
}

/** Thrown for an operation this module does not know how to authorize: refusing beats guessing its permissions. */
export class UnsupportedOperationError extends Error {
  override name = 'UnsupportedOperationError';
  constructor(
    readonly service: GatewayService,
    readonly operation: string,
  ) {
    super(`the local IAM gateway does not know which permissions ${service} ${operation} needs`);
  }
}

/** Thrown for a request that is not a well-formed call of its protocol (missing target, unparsable JSON body…). */
export class MalformedRequestError extends Error {
  override name = 'MalformedRequestError';
}

/** The operation name of a JSON-protocol request (`X-Amz-Target: <Prefix>.<Operation>`). */
export function jsonTarget(request: AwsHttpRequest, prefix: string): string {
  const target = request.headers['x-amz-target'];
  if (!target?.startsWith(`${prefix}.`)) throw new MalformedRequestError(`${request.service} request without X-Amz-Target ${prefix}.*`);
  return target.slice(prefix.length + 1);
}

export function jsonBody(request: AwsHttpRequest): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(request.body || '{}');
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // falls through to the error below
  }
  throw new MalformedRequestError(`${request.service} request body is not a JSON object`);
}

/** A required string member of a JSON request body. */
export function stringMember(body: Record<string, unknown>, name: string, operation: string): string {
  const value = body[name];
  if (typeof value !== 'string' || value === '') throw new MalformedRequestError(`${operation} without ${name}`);
  return value;
}
