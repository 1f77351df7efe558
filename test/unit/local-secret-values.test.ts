import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadOrCreateSecretValues } from '../../local/emulators/secrets-manager';

const dir = mkdtempSync(join(tmpdir(), 'ghostless-secrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the local stack's generated secrets", () => {
  it('keeps a value per secret across starts, adds one for a new secret, and stores them readable by the owner only', () => {
    const file = join(dir, 'secrets.json');
    const first = loadOrCreateSecretValues(file, ['VapidKey']);
    expect(first.VapidKey).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(loadOrCreateSecretValues(file, ['VapidKey'])).toEqual(first);
    const second = loadOrCreateSecretValues(file, ['VapidKey', 'Other']);
    expect(second.VapidKey).toBe(first.VapidKey);
    expect(second.Other).not.toBe(first.VapidKey);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});
