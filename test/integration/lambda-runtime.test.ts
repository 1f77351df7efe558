import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type FunctionSpec, LambdaService } from '../../local/lambda/lambda-service';

// Small functions written here, run by the same local Lambda service that runs the cloud assembly's bundles.
const root = mkdtempSync(join(tmpdir(), 'lambda-runtime-'));
const CODE: Record<string, string> = {
  // Holds `mb` megabytes of Buffers (outside the V8 heap) for a moment, then lets them go.
  buffers: `export const handler = async ({ mb }) => {
    const held = Array.from({ length: mb }, () => Buffer.alloc(1024 * 1024, 1));
    await new Promise((resolve) => setTimeout(resolve, 100));
    return { held: held.length };
  };`,
  slow: `export const handler = (ms) => new Promise((resolve) => setTimeout(() => resolve('done'), ms));`,
  broken: `throw new Error('init failed on purpose'); export const handler = () => 'never';`,
};

function spec(name: string, overrides: Partial<FunctionSpec> = {}): FunctionSpec {
  const codeDir = join(root, name);
  rmSync(codeDir, { recursive: true, force: true });
  mkdirSync(codeDir, { recursive: true });
  writeFileSync(join(codeDir, 'index.mjs'), CODE[name] as string);
  return {
    logicalId: `${name}Fn`,
    name: `runtime-test-${name}`,
    arn: `arn:aws:lambda:us-east-1:000000000000:function:runtime-test-${name}`,
    codeDir,
    handler: 'index.handler',
    timeoutSeconds: 3,
    memorySize: 128,
    environment: {},
    async: { maximumRetryAttempts: 0, maximumEventAgeSeconds: 60 },
    ...overrides,
  };
}

const lambda = new LambdaService({
  functions: [spec('buffers'), spec('slow', { timeoutSeconds: 1 }), spec('broken')],
  runtimeEnvironment: () => ({}),
  logDir: join(root, 'logs'),
});

afterAll(async () => {
  await lambda.close();
  rmSync(root, { recursive: true, force: true });
});

describe('the local Lambda runtime', () => {
  it('stops an invocation whose Buffers go over the memory size, as Lambda does, and serves the next one fresh', async () => {
    await expect(lambda.invoke('runtime-test-buffers', { mb: 40 })).resolves.toEqual({ held: 40 });
    await expect(lambda.invoke('runtime-test-buffers', { mb: 200 })).rejects.toMatchObject({
      errorType: 'Runtime.OutOfMemory',
      message: expect.stringContaining('Runtime exited with error: signal: killed'),
    });
    await expect(lambda.invoke('runtime-test-buffers', { mb: 40 })).resolves.toEqual({ held: 40 });
  });

  it('ends a run past its timeout with Task timed out', async () => {
    await expect(lambda.invoke('runtime-test-slow', 2000)).rejects.toMatchObject({
      errorType: 'Sandbox.Timedout',
      message: expect.stringContaining('Task timed out after 1.00 seconds'),
    });
    await expect(lambda.invoke('runtime-test-slow', 10)).resolves.toBe('done');
  });

  it('reports an error thrown at start-up as the invocation’s error', async () => {
    await expect(lambda.invoke('runtime-test-broken', {})).rejects.toMatchObject({ message: 'init failed on purpose' });
  });
});
