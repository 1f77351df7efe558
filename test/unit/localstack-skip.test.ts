import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { skipMessage } from '../../scripts/test-localstack.mjs';

describe('npm run test:localstack prerequisites', () => {
  it('names both missing prerequisites in one line', () => {
    expect(skipMessage({}, 'no-engine')).toBe(
      'test:localstack skipped: no Docker engine (docker info failed) and LOCALSTACK_AUTH_TOKEN is not set',
    );
  });

  it('names only what is missing', () => {
    expect(skipMessage({ LOCALSTACK_AUTH_TOKEN: 't' }, 'no-engine')).toBe('test:localstack skipped: no Docker engine (docker info failed)');
    expect(skipMessage({ LOCALSTACK_AUTH_TOKEN: 't' }, 'no-cli')).toBe('test:localstack skipped: no Docker CLI (docker not found)');
    expect(skipMessage({}, 'ok')).toBe('test:localstack skipped: LOCALSTACK_AUTH_TOKEN is not set');
  });

  it('runs when Docker and the token are both there', () => {
    expect(skipMessage({ LOCALSTACK_AUTH_TOKEN: 't' }, 'ok')).toBeUndefined();
  });

  it('prints one line and exits 0 without a token, whatever Docker says', () => {
    const env = { ...process.env };
    delete env.LOCALSTACK_AUTH_TOKEN;
    const result = spawnSync(process.execPath, ['scripts/test-localstack.mjs'], { encoding: 'utf8', env, timeout: 30_000 });
    expect(result.status).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^test:localstack skipped: .*LOCALSTACK_AUTH_TOKEN is not set$/);
  });
});
