import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { startSecretsManagerLocal } from '../../local/emulators/secrets-manager';
import { startLocalProvider } from '../../local/provider/server';
import { testStack } from '../support/emulator-stack';

/** `npm run audit` as an operator runs it: the provider key comes from its secret, read with the caller's credentials. */
const stack = await testStack();
const apiKey = `key-${randomUUID()}`;
const secret = { name: `ghostless/provider-${randomUUID().slice(0, 8)}`, arn: '', value: apiKey };
secret.arn = `arn:aws:secretsmanager:us-east-1:000000000000:secret:${secret.name}-AbCdEf`;
const secrets = await startSecretsManagerLocal([secret]);
// Two tasks the key runs for someone else: Ghostless runs none, so both are unaccounted for.
const provider = await startLocalProvider({ apiKey, foreignTasks: 2 });
afterAll(async () => {
  await Promise.all([secrets.stop(), provider.stop()]);
});

const runAudit = (env: Record<string, string>) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/audit.ts', '--json', '--table', stack.config.tableName], {
    env: {
      ...process.env,
      RUNNINGHUB_API_KEY: '',
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
      RUNNINGHUB_BASE_URL: provider.url,
      ...env,
    },
  });

describe('the audit with the provider key in Secrets Manager', () => {
  it('reads the key from its secret and counts the tasks the key runs that Ghostless cannot account for', async () => {
    const { stdout } = await runAudit({ RUNNINGHUB_API_KEY_SECRET: secret.name });
    expect(JSON.parse(stdout).provider).toEqual({ currentTaskCounts: 2, ghostless: 0, unaccounted: 2 });
    expect(stdout).not.toContain(apiKey);
  });

  it('fails with the secret service’s answer, not the key, when the secret does not exist', async () => {
    const failed = await runAudit({ RUNNINGHUB_API_KEY_SECRET: 'ghostless/no-such-secret' }).then(
      () => undefined,
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain("can't find the specified secret");
    expect(`${failed?.stdout}${failed?.stderr}`).not.toContain(apiKey);
  });
});
