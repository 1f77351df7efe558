import { randomUUID } from 'node:crypto';
import { relative } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { expect } from 'vitest';
import { apiClient } from '../../local/api-client';
import { startLocalStack } from '../../local/local-stack';
import { recordUsage, summarize } from './iam-usage';

/**
 * The whole local stack in this test file's process (one per file: handlers read config at import),
 * on the run's DynamoDB Local with a table of its own, plus an HTTP client and a table reader.
 */
export async function startTestStack(env: Record<string, string> = {}, options: { cloudAssembly?: string; expectDenials?: boolean } = {}) {
  const dynamodbEndpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB;
  if (!dynamodbEndpoint) throw new Error('The emulators are not running: run tests through vitest (test/global-setup.ts)');
  const tableName = `stack-${randomUUID().slice(0, 8)}`;
  const stack = await startLocalStack({
    port: 0,
    inMemory: true,
    emulators: { dynamodbEndpoint, tableName },
    // RunningHub retries an unanswered webhook minutes apart; tests shrink that schedule unless they ask for another.
    env: { SWEEP_INTERVAL_MS: '3600000', PROVIDER_WEBHOOK_RETRY_SCALE: '0.005', ...env },
    cloudAssembly: options.cloudAssembly,
  });
  const stop = stack.stop;
  stack.stop = async () => {
    const file = expect.getState().testPath ?? 'unknown';
    recordUsage(relative(process.cwd(), file), summarize(stack.iamUsage(), tableName), options.expectDenials);
    await stop();
  };
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: dynamodbEndpoint }));
  // Assigned, not spread: a spread would read `provider`, which throws when the stack uses an external endpoint.
  return Object.assign(stack, { api: apiClient(stack.url), doc, config: { tableName } });
}

export type StartedTestStack = Awaited<ReturnType<typeof startTestStack>>;
