import { writeFileSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { synthesizeCloudAssembly } from '../local/cloud/assembly';
import { type DynamoDbLocal, startDynamoDbLocal } from '../local/emulators/dynamodb';
import { type S3Local, S3RVER_CREDENTIALS, startS3Local } from '../local/emulators/s3';
import { ensureDeps } from '../local/ensure-deps.mjs';
import { LOCAL_SYNTH_CONTEXT } from '../local/local-stack';
import { clearUsage, usageReport } from './support/iam-usage';

declare module 'vitest' {
  export interface ProvidedContext {
    /** DynamoDB Local (in memory), shared by the whole run. */
    dynamodbEndpoint: string;
    /** s3rver's direct endpoint (path style, S3RVER/S3RVER), shared by the whole run. */
    s3Endpoint: string;
  }
}

/**
 * Starts ONE in-memory DynamoDB Local and ONE s3rver (temp dir) for the whole test run. Their endpoints go
 * into process.env before any worker forks, so every test process sees AWS_ENDPOINT_URL_DYNAMODB,
 * AWS_ENDPOINT_URL_S3, AWS_REGION and credentials and the SDK clients pick them up with no extra code;
 * they are also available as inject('dynamodbEndpoint') / inject('s3Endpoint').
 * Tests that need a table or bucket create their own with a unique name.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  ensureDeps(); // throws the one-line Java message when java is missing; fetches DynamoDB Local on first run
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

  let dynamodb: DynamoDbLocal | undefined;
  let s3: S3Local | undefined;
  let assemblyDir: string;
  try {
    // One synthesized cloud assembly for the whole run: every local stack runs it as it is (CLOUD_ASSEMBLY).
    let assembly: { dir: string };
    [dynamodb, s3, assembly] = await Promise.all([
      startDynamoDbLocal(),
      startS3Local(),
      process.env.CLOUD_ASSEMBLY ? { dir: process.env.CLOUD_ASSEMBLY } : synthesizeCloudAssembly(LOCAL_SYNTH_CONTEXT),
    ]);
    assemblyDir = assembly.dir;
  } catch (error) {
    await Promise.allSettled([dynamodb?.stop(), s3?.stop()]);
    throw error;
  }

  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    AWS_ENDPOINT_URL_DYNAMODB: dynamodb.endpoint,
    AWS_ENDPOINT_URL_S3: s3.endpoint,
    S3_FORCE_PATH_STYLE: 'true',
    CLOUD_ASSEMBLY: assemblyDir,
  });
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
  project.provide('dynamodbEndpoint', dynamodb.endpoint);
  project.provide('s3Endpoint', s3.endpoint);

  clearUsage();
  const started = { dynamodb, s3 };
  return async () => {
    await Promise.allSettled([started.dynamodb.stop(), started.s3.stop()]);
    const report = usageReport();
    if (!report) return;
    writeFileSync('test-output/iam-actions.md', `${report.table}\n`);
    console.log(`\nAWS calls per function, as the local IAM gateway evaluated them (test-output/iam-actions.md):\n${report.table}`);
    console.log(
      report.unexpectedDenials.length === 0
        ? 'IAM: nothing was denied outside the tests that remove a permission on purpose.'
        : `IAM: ${report.unexpectedDenials.length} unexpected denial(s):\n${report.unexpectedDenials.join('\n')}`,
    );
  };
}
