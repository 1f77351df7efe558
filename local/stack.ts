import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import type { Context, S3Event } from 'aws-lambda';
import { TOOLS } from '../lambdas/domain/catalog';
import { loadOrCreateJwtSecret } from './auth';
import { type DynamoDbLocal, startDynamoDbLocal } from './emulators/dynamodb';
import { type S3Local, S3RVER_CREDENTIALS, startS3Local } from './emulators/s3';
import { type ApiHandler, createHttpAdapter } from './http-adapter';
import { lambdaContext } from './lambda-context';
import { ensureBucket, ensureTable } from './resources';
import { createS3Gateway } from './s3-gateway';

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
  stop(): Promise<void>;
}

/** Invokes a handler the way Lambda does for async (event) sources: two retries on error, then log and drop. */
function asyncInvoker(functionName: string, isStopping: () => boolean) {
  const pending = new Set<Promise<void>>();
  const delays = [200, 1000];
  const invoke = <E>(handler: (event: E, context: Context) => Promise<unknown>, event: E) => {
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
  const server = createServer();
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  let stopping = false;
  const invoker = asyncInvoker('ghostless-s3-event', () => stopping);

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
    await invoker.settle();
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

    [dynamodb, s3] = await Promise.all([
      startDynamoDbLocal({ dataDir: inMemory ? undefined : join(dataDir, 'dynamodb'), port: previousPorts?.dynamodb }),
      startS3Local({ dataDir: join(dataDir, 's3'), port: previousPorts?.s3, region: REGION }),
    ]);
    previousPorts = { http: port, dynamodb: dynamodb.port, s3: s3.port };
    const dynamoClient = new DynamoDBClient({ endpoint: dynamodb.endpoint, region: REGION, credentials: S3RVER_CREDENTIALS });
    const s3Client = new S3Client({ endpoint: s3.endpoint, region: REGION, credentials: S3RVER_CREDENTIALS, forcePathStyle: true });
    const [jwtSecret] = await Promise.all([
      loadOrCreateJwtSecret(dataDir),
      ensureTable(dynamoClient, TABLE_NAME),
      ensureBucket(s3Client, BUCKET_NAME),
    ]).finally(() => {
      dynamoClient.destroy();
      s3Client.destroy();
    });

    // Stand-ins until the local Step Functions interpreter and provider land; process.env or opts.env win.
    const defaults: Record<string, string> = {
      PUBLIC_API_URL: url,
      STATE_MACHINE_ARN: `arn:aws:states:${REGION}:000000000000:stateMachine:ghostless-jobs`,
      RUNNINGHUB_BASE_URL: `${url}/local/runninghub`,
      RUNNINGHUB_API_KEY: 'local',
      RUNNINGHUB_WORKFLOWS: JSON.stringify(Object.fromEntries(Object.keys(TOOLS).map((tool) => [tool, `local-${tool}`]))),
      POWERTOOLS_METRICS_DISABLED: 'true',
    };
    for (const [name, value] of Object.entries(defaults)) process.env[name] ??= value;
    Object.assign(process.env, {
      TABLE_NAME,
      BUCKET_NAME,
      AWS_REGION: REGION,
      AWS_DEFAULT_REGION: REGION,
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      S3_PUBLIC_ENDPOINT: `${url}/s3`,
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
      invoker.invoke(s3Event.handler, event);
    });

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
      dynamodbEndpoint: dynamodb.endpoint,
      s3Endpoint: s3.endpoint,
      jwtSecret,
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
