import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Config } from '../../lambdas/config';
import type { PostUpload } from '../../lambdas/domain/admission';
import { DEFAULT_LIMITS } from '../../lambdas/domain/catalog';
import type { Workflow } from '../../lambdas/domain/ports';
import { buildServices } from '../../lambdas/services';
import { BUNDLED_WORKFLOW_MAP_JSON } from '../../local/provider/workflows';
import { ensureBucket, ensureTable } from '../../local/resources';

/**
 * A fresh table and bucket on the run's emulators (started by test/global-setup.ts), with the real
 * services wired to them. Each call gets its own names, so tests never see each other's queue.
 */
export async function testStack(overrides: Partial<Config> = {}) {
  const started: string[] = [];
  if (!process.env.AWS_ENDPOINT_URL_DYNAMODB || !process.env.AWS_ENDPOINT_URL_S3) {
    throw new Error('The emulators are not running: run tests through vitest (test/global-setup.ts)');
  }
  const id = randomUUID().slice(0, 8);
  const config: Config = {
    tableName: `jobs-${id}`,
    bucketName: `data-${id}`,
    s3PublicEndpoint: undefined,
    s3ForcePathStyle: true,
    limits: DEFAULT_LIMITS,
    uploadTtlSeconds: 900,
    multipart: { thresholdBytes: 16 * 1024 * 1024, partBytes: 8 * 1024 * 1024 },
    jobRetentionDays: 30,
    maxRunning: 3,
    queueTimeoutSeconds: 3600,
    runTimeoutSeconds: 900,
    stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:admission-tests',
    publicApiUrl: undefined,
    healGraceMs: 120_000,
    signupCredits: 3,
    runningHub: {
      baseUrl: 'http://127.0.0.1:9',
      apiKeySecret: 'unused',
      workflows: BUNDLED_WORKFLOW_MAP_JSON,
      fileHosts: [],
    },
    push: { vapidKeySecret: 'unused', contact: 'mailto:push@ghostless.app', extraOrigins: [] },
    ...overrides,
  };
  // Admission hands jobs to the queue's driver; here it only records them (the queue has its own tests).
  const workflow: Workflow = {
    start: async (jobId) => void started.push(jobId),
    resume: async () => {},
    fail: async () => {},
    stop: async () => {},
    status: async () => 'MISSING',
  };
  const dynamo = new DynamoDBClient({});
  const s3 = new S3Client({ forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' });
  await Promise.all([ensureTable(dynamo, config.tableName), ensureBucket(s3, config.bucketName)]);
  return { config, services: buildServices(config, { workflow }), doc: DynamoDBDocumentClient.from(dynamo), s3, started };
}

export type TestStack = Awaited<ReturnType<typeof testStack>>;

export const newUser = () => `user-${randomUUID()}`;

/** Sends one presigned POST the way a browser form does: every field, then the file. */
async function postForm(upload: { url: string; fields: Record<string, string> }, body: Uint8Array<ArrayBuffer>, contentType: string) {
  const form = new FormData();
  for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
  form.append('file', new Blob([body], { type: contentType }));
  const response = await fetch(upload.url, { method: 'POST', body: form });
  if (!response.ok) throw new Error(`upload failed: ${response.status} ${await response.text()}`);
}

interface FileSpec {
  slot: string;
  contentType: string;
  body: Uint8Array<ArrayBuffer>;
  /** What the client claims; defaults to the real size. */
  size?: number;
}

/** Presigns, uploads every file, and returns the keys whose S3 events the caller delivers (in any order, any number of times). */
export async function upload(stack: TestStack, userId: string, tool: string, files: FileSpec[], params?: Record<string, unknown>) {
  const request = { tool, params, files: files.map((f) => ({ slot: f.slot, contentType: f.contentType, size: f.size ?? f.body.length })) };
  const answer = await stack.services.admission.requestUpload(userId, request);
  const presigned = { ...answer, uploads: answer.uploads as PostUpload[] };
  await Promise.all(
    presigned.uploads.map((u) => {
      const file = files.find((f) => f.slot === u.slot);
      if (!file) throw new Error(`no file for ${u.slot}`);
      return postForm(u, file.body, file.contentType);
    }),
  );
  return { jobId: presigned.jobId, keys: presigned.uploads.map((u) => u.fields.key as string), presigned };
}

/** Upload and deliver each object's event once, in order. */
export async function submit(stack: TestStack, userId: string, tool: string, files: FileSpec[], params?: Record<string, unknown>) {
  const uploaded = await upload(stack, userId, tool, files, params);
  const outcomes = [];
  for (const key of uploaded.keys) outcomes.push(await stack.services.admission.onInputStored(key));
  return { ...uploaded, outcomes };
}
