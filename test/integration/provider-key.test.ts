import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { afterAll, describe, expect, it } from 'vitest';
import { keyedProvider, secretString } from '../../lambdas/adapters/provider-key';
import type { Provider } from '../../lambdas/domain/ports';
import { startSecretsManagerLocal } from '../../local/emulators/secrets-manager';

const secret = { arn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:ProviderApiKey', name: 'ProviderApiKey', value: 'key-1' };
const secretsManager = await startSecretsManagerLocal([secret]);
afterAll(() => secretsManager.stop());

// Counts the calls that reach the service.
let reads = 0;
const client = new SecretsManagerClient({
  endpoint: secretsManager.endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
});
client.middlewareStack.add(
  (next) => async (args) => {
    reads++;
    return next(args);
  },
  { step: 'initialize' },
);

describe('the provider key', () => {
  it('is read once for concurrent callers, kept for five minutes, then read again', async () => {
    let now = 0;
    const key = secretString(client, secret.arn, () => now);
    reads = 0;
    expect(await Promise.all([key(), key(), key()])).toEqual(['key-1', 'key-1', 'key-1']);
    now += 4 * 60_000;
    await key();
    expect(reads).toBe(1);
    secret.value = 'key-2';
    now += 2 * 60_000;
    expect(await key()).toBe('key-2');
    expect(reads).toBe(2);
  });

  it('is not cached when reading it fails', async () => {
    const key = secretString(client, 'no-such-secret');
    await expect(key()).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    reads = 0;
    await expect(key()).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    expect(reads).toBe(1);
  });

  it('is only read when the provider is called, and the provider is rebuilt when it changes', async () => {
    let current = 'k1';
    let asked = 0;
    const built: string[] = [];
    const provider = keyedProvider(
      (apiKey) => {
        built.push(apiKey);
        return { cancel: async () => {} } as unknown as Provider;
      },
      async () => {
        asked++;
        return current;
      },
    );
    expect(asked).toBe(0);
    await provider.cancel('1');
    await provider.cancel('2');
    current = 'k2';
    await provider.cancel('3');
    expect({ asked, built }).toEqual({ asked: 3, built: ['k1', 'k2'] });
  });
});
