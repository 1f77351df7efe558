import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Provider } from '../domain/ports';

/** How long a read key is trusted: a rotated key (put-secret-value) is in use everywhere within this time. */
const KEY_TTL_MS = 5 * 60_000;

/** The secret's current string, read when first needed and again after KEY_TTL_MS; concurrent callers share a read. */
export function secretString(client: SecretsManagerClient, secretId: string, now = Date.now): () => Promise<string> {
  let cached: { value: Promise<string>; at: number } | undefined;
  return () => {
    if (!cached || now() - cached.at > KEY_TTL_MS) {
      const value = client.send(new GetSecretValueCommand({ SecretId: secretId })).then(({ SecretString }) => {
        if (!SecretString) throw new Error(`Secret ${secretId} holds no string`);
        return SecretString;
      });
      cached = { value, at: now() };
      value.catch(() => {
        cached = undefined; // a failed read is not cached
      });
    }
    return cached.value;
  };
}

/**
 * The provider, built with the key it is given when a call needs one: a function that never calls the provider
 * never reads the secret (and is not allowed to).
 */
export function keyedProvider(build: (apiKey: string) => Provider, key: () => Promise<string>): Provider {
  let current: { apiKey: string; provider: Provider } | undefined;
  const provider = async () => {
    const apiKey = await key();
    if (current?.apiKey !== apiKey) current = { apiKey, provider: build(apiKey) };
    return current.provider;
  };
  return {
    stageInputs: async (inputs) => (await provider()).stageInputs(inputs),
    createTask: async (request) => (await provider()).createTask(request),
    outputs: async (taskId) => (await provider()).outputs(taskId),
    cancel: async (taskId) => (await provider()).cancel(taskId),
  };
}
