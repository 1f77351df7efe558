import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { Context, S3Event } from 'aws-lambda';
import { loadOrCreateJwtSecret } from './auth';
import { type DynamoDbLocal, startDynamoDbLocal } from './emulators/dynamodb';
import { type S3Local, S3RVER_CREDENTIALS, startS3Local } from './emulators/s3';
import { type ApiHandler, createHttpAdapter } from './http-adapter';
import { LOCAL_ACCOUNT_ID, lambdaContext } from './lambda-context';
import { type LocalProvider, startLocalProvider } from './provider/server';
import { ensureBucket, ensureTable } from './resources';
import { createS3Gateway } from './s3-gateway';
import { LocalStepFunctions, toStatusChangeDetail } from './stepfunctions/runtime';
import { startLocalSfnServer } from './stepfunctions/server';
import { extractStateMachine, synthesizeTemplate } from './stepfunctions/template';

export const TABLE_NAME = 'ghostless-jobs';
export const BUCKET_NAME = 'ghostless-data';
const REGION = 'us-east-1';

export interface LocalStackOptions {
  /** HTTP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Where DynamoDB, S3 and the JWT key persist; defaults to `.local/`. Ignored when inMemory. */
  dataDir?: string;
  /** Keep nothing: DynamoDB in memory, S3 and the JWT key in a temp dir removed by stop(). */
  inMemory?: boolean;
  /** Extra/overriding environment for the handlers (MAX_RUNNING, PROVIDER_LATENCY_MS, …). */
  env?: Record<string, string>;
  /** Reuse a running DynamoDB Local with a table of our own (tests start one per run); s3rver is always ours, for its events. */
  emulators?: { dynamodbEndpoint: string; tableName: string };
}

export interface LocalStack {
  /** e.g. http://127.0.0.1:3000 — SPA at /, API at /api, S3 gateway at /s3. */
  url: string;
  port: number;
  dataDir: string;
  dynamodbEndpoint: string;
  s3Endpoint: string;
  /** The HS256 key local tokens are signed with (also at `<dataDir>/jwt-secret`). */
  jwtSecret: Uint8Array;
  tableName: string;
  bucketName: string;
  /** The local Step Functions runtime running the synthesized state machine. */
  stepFunctions: LocalStepFunctions;
  /** The RunningHub-compatible provider (fault hooks for tests). */
  provider: LocalProvider;
  /** Runs one sweep now, as the schedule does. */
  sweep(): Promise<unknown>;
  stop(): Promise<void>;
}

type Handler = (event: unknown, context: Context) => Promise<unknown>;

/** The deployed handler modules, by file name under lambdas/handlers/ (import paths kept literal for bundlers). */
const HANDLERS: Record<string, () => Promise<{ handler: Handler }>> = {
  'wait-for-slot': () => import('../lambdas/handlers/wait-for-slot') as Promise<{ handler: Handler }>,
  'run-on-provider': () => import('../lambdas/handlers/run-on-provider') as Promise<{ handler: Handler }>,
  'collect-outputs': () => import('../lambdas/handlers/collect-outputs') as Promise<{ handler: Handler }>,
  finalize: () => import('../lambdas/handlers/finalize') as Promise<{ handler: Handler }>,
  sweeper: () => import('../lambdas/handlers/sweeper') as Promise<{ handler: Handler }>,
  'execution-ended': () => import('../lambdas/handlers/execution-ended') as Promise<{ handler: Handler }>,
};

/** Runs a handler as a synchronous Lambda invocation would. */
async function invokeHandler(file: string, payload: unknown) {
  const load = HANDLERS[file];
  if (!load) throw new Error(`No local handler for ${file}`);
  const { handler } = await load();
  return handler(payload, lambdaContext(`ghostless-${file}`, randomUUID(), 900_000, REGION));
}

/** A handler for the async invoker, loaded lazily (after the environment is set). */
const handlerOf =
  (file: string): Handler =>
  (event) =>
    invokeHandler(file, event);

/** Invokes a handler the way Lambda does for async (event) sources: two retries on error, then log and drop. */
function asyncInvoker(isStopping: () => boolean) {
  const pending = new Set<Promise<void>>();
  const delays = [200, 1000];
  const invoke = <E>(functionName: string, handler: (event: E, context: Context) => Promise<unknown>, event: E) => {
    const run = (async () => {
      for (let attempt = 0; attempt <= delays.length; attempt++) {
        try {
          await handler(event, lambdaContext(functionName, randomUUID(), 900_000, REGION));
          return;
        } catch (error) {
          const last = attempt === delays.length || isStopping();
          console.error(`[${functionName}] attempt ${attempt + 1} failed${last ? '; giving up' : '; retrying'}:`, error);
          if (last) return;
          await new Promise((r) => setTimeout(r, delays[attempt]));
        }
      }
    })();
    pending.add(run);
    void run.finally(() => pending.delete(run));
  };
  return { invoke, settle: () => Promise.allSettled([...pending]) };
}

/**
 * The handler modules read their config and build SDK clients once, at import (as in a Lambda cold start),
 * so a process can only ever serve one set of endpoints. A stack restarted in the same process therefore
 * gets the previous ports back (same URL, same emulator endpoints) unless told otherwise.
 */
let running = false;
let previousPorts: { http: number; dynamodb: number; s3: number } | undefined;

/** Starts the whole system on 127.0.0.1: DynamoDB Local, s3rver, the S3 gateway, the API handlers and the SPA. */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  if (running) throw new Error('A local stack is already running in this process; stop it first.');
  running = true;
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

  const inMemory = options.inMemory ?? false;
  const dataDir = inMemory ? mkdtempSync(join(tmpdir(), 'ghostless-local-')) : resolve(options.dataDir ?? '.local');
  mkdirSync(dataDir, { recursive: true });

  let dynamodb: DynamoDbLocal | undefined;
  let s3: S3Local | undefined;
  let provider: LocalProvider | undefined;
  let stepFunctions: LocalStepFunctions | undefined;
  let sfnServer: { endpoint: string; stop(): Promise<void> } | undefined;
  let sweepTimer: NodeJS.Timeout | undefined;
  let sweep: () => Promise<unknown> = async () => undefined;
  const server = createServer();
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  let stopping = false;
  const invoker = asyncInvoker(() => stopping);

  const teardown = async () => {
    stopping = true;
    await new Promise<void>((done) => {
      if (!server.listening) return done();
      server.close(() => done());
      server.closeIdleConnections();
      setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, 1000).unref();
    });
    if (sweepTimer) clearInterval(sweepTimer);
    stepFunctions?.close();
    await invoker.settle();
    await Promise.allSettled([sfnServer?.stop(), provider?.stop()]);
    await Promise.allSettled([dynamodb?.stop(), s3?.stop()]);
    if (inMemory) rmSync(dataDir, { recursive: true, force: true });
    running = false;
  };

  try {
    // Listen first: the handlers need the public URL (presigned URLs, webhooks) in their env at import.
    let listener: RequestListener = (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end(JSON.stringify({ error: 'STARTING', message: 'The local stack is starting.' }));
    };
    server.on('request', (req, res) => listener(req, res));
    const wantedPort = options.port || previousPorts?.http || 0;
    await new Promise<void>((done, fail) => {
      server.once('error', fail);
      server.listen(wantedPort, '127.0.0.1', () => {
        server.off('error', fail);
        done();
      });
    });
    const port = (server.address() as AddressInfo).port;
    const url = `http://127.0.0.1:${port}`;

    const reuse = options.emulators;
    const tableName = reuse?.tableName ?? TABLE_NAME;
    [dynamodb, s3] = await Promise.all([
      reuse ? undefined : startDynamoDbLocal({ dataDir: inMemory ? undefined : join(dataDir, 'dynamodb'), port: previousPorts?.dynamodb }),
      startS3Local({ dataDir: join(dataDir, 's3'), port: previousPorts?.s3, region: REGION }),
    ]);
    const dynamodbEndpoint = reuse?.dynamodbEndpoint ?? (dynamodb as DynamoDbLocal).endpoint;
    previousPorts = { http: port, dynamodb: dynamodb?.port ?? 0, s3: s3.port };
    const dynamoClient = new DynamoDBClient({ endpoint: dynamodbEndpoint, region: REGION, credentials: S3RVER_CREDENTIALS });
    const s3Client = new S3Client({ endpoint: s3.endpoint, region: REGION, credentials: S3RVER_CREDENTIALS, forcePathStyle: true });
    const [jwtSecret] = await Promise.all([
      loadOrCreateJwtSecret(dataDir),
      ensureTable(dynamoClient, tableName),
      ensureBucket(s3Client, BUCKET_NAME),
    ]).finally(() => {
      dynamoClient.destroy();
      s3Client.destroy();
    });

    // The provider and the state machine, as they run in AWS: the same ASL, from the synthesized template.
    const knob = (name: string, fallback: number) => Number(options.env?.[name] ?? process.env[name] ?? fallback);
    provider = await startLocalProvider({
      latencyMs: knob('PROVIDER_LATENCY_MS', 1500),
      failRate: knob('PROVIDER_FAIL_RATE', 0),
      dataDir: inMemory ? undefined : join(dataDir, 'provider'),
    });
    const machine = extractStateMachine(await synthesizeTemplate());
    stepFunctions = new LocalStepFunctions({
      ...machine,
      invoke: (file, payload) => invokeHandler(file, payload),
      retryScale: options.env?.SFN_RETRY_SCALE ? Number(options.env.SFN_RETRY_SCALE) : undefined,
    });
    sfnServer = await startLocalSfnServer(stepFunctions);

    const defaults: Record<string, string> = {
      PUBLIC_API_URL: url,
      POWERTOOLS_METRICS_DISABLED: 'true',
      POWERTOOLS_LOG_LEVEL: 'ERROR',
    };
    for (const [name, value] of Object.entries(defaults)) process.env[name] ??= value;
    Object.assign(process.env, {
      TABLE_NAME: tableName,
      BUCKET_NAME,
      AWS_REGION: REGION,
      AWS_DEFAULT_REGION: REGION,
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: dynamodbEndpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_SFN: sfnServer.endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      S3_PUBLIC_ENDPOINT: `${url}/s3`,
      STATE_MACHINE_ARN: machine.stateMachineArn,
      RUNNINGHUB_BASE_URL: provider.url,
      RUNNINGHUB_API_KEY: provider.apiKey,
      RUNNINGHUB_WORKFLOWS: JSON.stringify(provider.workflows),
      ...options.env,
    });
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;

    const api = (await import('../lambdas/handlers/api')) as { handler: ApiHandler };
    const s3Event = (await import('../lambdas/handlers/s3-event')) as {
      handler: (event: S3Event, context: Context) => Promise<unknown>;
    };
    const { services } = await import('../lambdas/runtime');

    s3.onObjectCreated((event) => {
      const record = event.Records[0];
      if (!record || record.s3.bucket.name !== BUCKET_NAME) return;
      // The bucket notification filters on the prefix `inputs/` (keys in events are URL-encoded, '/' kept).
      if (!record.s3.object.key.startsWith('inputs/')) return;
      invoker.invoke('ghostless-s3-event', s3Event.handler, event);
    });

    // EventBridge: executions that fail, time out or are aborted go to the cleanup handler.
    stepFunctions.onStatusChange((execution) => {
      if (!['FAILED', 'TIMED_OUT', 'ABORTED'].includes(execution.status)) return;
      invoker.invoke('ghostless-execution-ended', handlerOf('execution-ended'), {
        version: '0',
        id: randomUUID(),
        'detail-type': 'Step Functions Execution Status Change',
        source: 'aws.states',
        account: LOCAL_ACCOUNT_ID,
        time: new Date().toISOString(),
        region: REGION,
        resources: [execution.executionArn],
        detail: toStatusChangeDetail(execution),
      });
    });

    // EventBridge schedule: the sweeper, one run at a time.
    const sweepEveryMs = knob('SWEEP_INTERVAL_MS', 60_000);
    let sweeping: Promise<unknown> | undefined;
    sweep = () => {
      sweeping ??= invokeHandler('sweeper', {}).finally(() => {
        sweeping = undefined;
      });
      return sweeping;
    };
    sweepTimer = setInterval(() => void sweep().catch((error) => console.error('[sweeper]', error)), sweepEveryMs);
    sweepTimer.unref();

    listener = createHttpAdapter({
      apiHandler: api.handler,
      s3Gateway: createS3Gateway({ s3Endpoint: s3.endpoint, credentials: S3RVER_CREDENTIALS, region: REGION, tmpDir: tmpdir() }),
      jwtSecret,
      setBalance: (userId, balance) => services.credits.setBalance(userId, balance),
    });

    let stopped: Promise<void> | undefined;
    return {
      url,
      port,
      dataDir,
      dynamodbEndpoint,
      s3Endpoint: s3.endpoint,
      jwtSecret,
      tableName,
      bucketName: BUCKET_NAME,
      stepFunctions,
      provider,
      sweep: () => sweep(),
      stop: () => {
        stopped ??= teardown();
        return stopped;
      },
    };
  } catch (error) {
    await teardown();
    throw error;
  }
}
