import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { startLocalStack } from '../../local/stack';
import { apiClient } from './api-client';

/**
 * The whole local stack in this test file's process (one per file: handlers read config at import),
 * on the run's DynamoDB Local with a table of its own, plus an HTTP client and a table reader.
 */
export async function startTestStack(env: Record<string, string> = {}) {
  const dynamodbEndpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB;
  if (!dynamodbEndpoint) throw new Error('The emulators are not running: run tests through vitest (test/global-setup.ts)');
  const tableName = `stack-${randomUUID().slice(0, 8)}`;
  // The bundled provider reads these knobs from the environment when it starts. RunningHub retries an
  // unanswered webhook minutes apart; tests shrink that schedule unless they ask for another.
  const knobs = { PROVIDER_WEBHOOK_RETRY_SCALE: '0.005', PROVIDER_FOREIGN_TASKS: undefined, PROVIDER_CREATE_FAIL_RATE: undefined };
  for (const [name, fallback] of Object.entries(knobs)) {
    const value = env[name] ?? fallback;
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  const stack = await startLocalStack({
    port: 0,
    inMemory: true,
    emulators: { dynamodbEndpoint, tableName },
    env: { SWEEP_INTERVAL_MS: '3600000', ...env },
  });
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ endpoint: dynamodbEndpoint }));
  return { ...stack, api: apiClient(stack.url), doc, config: { tableName } };
}

export type StartedTestStack = Awaited<ReturnType<typeof startTestStack>>;
