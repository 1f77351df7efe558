import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LocalStepFunctions } from './asl-runtime';
import { type ExecutionDescription, type ExecutionStatus, SfnApiError } from './execution-model';

const TARGET_PREFIX = 'AWSStepFunctions.';
const ERROR_NAMESPACE = 'com.amazonaws.swf.service.v2.model#';
const MAX_BODY_BYTES = 1024 * 1024;

export interface LocalSfnServer {
  /** e.g. `http://127.0.0.1:41234` — set it as AWS_ENDPOINT_URL_SFN (or the SFNClient `endpoint`). */
  endpoint: string;
  stop(): Promise<void>;
}

type Body = Record<string, unknown>;

/** Epoch seconds, as the awsJson1_0 protocol serializes timestamps. */
const seconds = (date: Date | undefined) => (date ? date.getTime() / 1000 : undefined);

const str = (body: Body, key: string, required = true): string | undefined => {
  const value = body[key];
  if (value === undefined || value === null) {
    if (required)
      throw new SfnApiError(
        'ValidationException',
        `1 validation error detected: Value null at '${key}' failed to satisfy constraint: Member must not be null`,
      );
    return undefined;
  }
  if (typeof value !== 'string') throw new SfnApiError('ValidationException', `'${key}' must be a string`);
  return value;
};

const STATUSES = new Set<ExecutionStatus>(['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED']);

const operations: Record<string, (runtime: LocalStepFunctions, body: Body) => unknown> = {
  StartExecution(runtime, body) {
    const { executionArn, startDate } = runtime.startExecution({
      stateMachineArn: str(body, 'stateMachineArn'),
      name: str(body, 'name', false),
      input: str(body, 'input', false),
    });
    return { executionArn, startDate: seconds(startDate) };
  },
  SendTaskSuccess(runtime, body) {
    runtime.sendTaskSuccess(str(body, 'taskToken') as string, str(body, 'output') as string);
    return {};
  },
  SendTaskFailure(runtime, body) {
    runtime.sendTaskFailure(str(body, 'taskToken') as string, str(body, 'error', false), str(body, 'cause', false));
    return {};
  },
  SendTaskHeartbeat(runtime, body) {
    runtime.sendTaskHeartbeat(str(body, 'taskToken') as string);
    return {};
  },
  StopExecution(runtime, body) {
    const { stopDate } = runtime.stopExecution(str(body, 'executionArn') as string, {
      error: str(body, 'error', false),
      cause: str(body, 'cause', false),
    });
    return { stopDate: seconds(stopDate) };
  },
  DescribeExecution(runtime, body) {
    return wireDescription(runtime.describeExecution(str(body, 'executionArn') as string));
  },
  ListExecutions(runtime, body) {
    const stateMachineArn = str(body, 'stateMachineArn', false);
    if (stateMachineArn !== undefined && stateMachineArn !== runtime.stateMachineArn) {
      throw new SfnApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${stateMachineArn}'`);
    }
    const statusFilter = str(body, 'statusFilter', false);
    if (statusFilter !== undefined && !STATUSES.has(statusFilter as ExecutionStatus)) {
      throw new SfnApiError('ValidationException', `Value '${statusFilter}' at 'statusFilter' failed to satisfy constraint`);
    }
    const maxResults = typeof body.maxResults === 'number' ? body.maxResults : undefined;
    const { executions, nextToken } = runtime.listExecutions({
      statusFilter: statusFilter as ExecutionStatus | undefined,
      maxResults,
      nextToken: str(body, 'nextToken', false),
    });
    return {
      executions: executions.map((e) => ({ ...e, startDate: seconds(e.startDate), stopDate: seconds(e.stopDate) })),
      ...(nextToken ? { nextToken } : {}),
    };
  },
};

function wireDescription(d: ExecutionDescription) {
  return {
    executionArn: d.executionArn,
    stateMachineArn: d.stateMachineArn,
    name: d.name,
    status: d.status,
    startDate: seconds(d.startDate),
    stopDate: seconds(d.stopDate),
    input: d.input,
    inputDetails: { included: true },
    output: d.output,
    ...(d.output !== undefined ? { outputDetails: { included: true } } : {}),
    error: d.error,
    cause: d.cause,
  };
}

/**
 * Serves the runtime over the Step Functions JSON protocol (POST /, `X-Amz-Target: AWSStepFunctions.<Op>`,
 * `application/x-amz-json-1.0`), so `@aws-sdk/client-sfn` works against it unchanged. Requests are not
 * authenticated (any credentials). Listens on 127.0.0.1.
 */
export async function startLocalSfnServer(
  runtime: LocalStepFunctions,
  { port = 0, host = '127.0.0.1' }: { port?: number; host?: string } = {},
): Promise<LocalSfnServer> {
  const server = createServer((request, response) => {
    handle(runtime, request, response).catch((error) => {
      console.error('[local-sfn] request failed', error);
      if (!response.headersSent) send(response, 500, { __type: `${ERROR_NAMESPACE}InternalFailure`, message: 'Internal failure' });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return {
    endpoint: `http://${host}:${address.port}`,
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

async function handle(runtime: LocalStepFunctions, request: IncomingMessage, response: ServerResponse) {
  const target = request.headers['x-amz-target'];
  const operation =
    typeof target === 'string' && target.startsWith(TARGET_PREFIX) ? operations[target.slice(TARGET_PREFIX.length)] : undefined;
  if (request.method !== 'POST' || !operation) {
    await drain(request);
    send(response, 400, { __type: `${ERROR_NAMESPACE}UnknownOperationException`, message: `Unknown operation ${String(target)}` });
    return;
  }
  let body: Body;
  try {
    const text = await readBody(request);
    const parsed: unknown = text.trim() === '' ? {} : JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
    body = parsed as Body;
  } catch {
    send(response, 400, { __type: `${ERROR_NAMESPACE}SerializationException`, message: 'Request body is not a JSON object' });
    return;
  }
  try {
    send(response, 200, operation(runtime, body));
  } catch (error) {
    if (!(error instanceof SfnApiError)) throw error;
    send(response, 400, { __type: `${ERROR_NAMESPACE}${error.name}`, message: error.message });
  }
}

function send(response: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
  });
  response.end(text);
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error('request body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function drain(request: IncomingMessage) {
  for await (const _ of request) {
    // discard
  }
}
