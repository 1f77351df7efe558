import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { LocalAccounts } from '../../local/accounts';

/** The local stand-in for the user pool's account flows: codes, expiry, limits, and no answer that reveals an account. */

const refusal = async (work: () => unknown) => {
  try {
    await work();
    return '';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
};

function pool(file?: string) {
  const lines: string[] = [];
  const accounts = new LocalAccounts(file, (line) => lines.push(line));
  const lastCode = (email: string) => accounts.mailbox(email).at(-1)?.code as string;
  return { accounts, lines, lastCode };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('local accounts', () => {
  it('confirms a sign-up with the e-mailed code, logged as the "e-mail"', async () => {
    const { accounts, lines, lastCode } = pool();
    expect(await refusal(() => accounts.signUp('ana@example.com', 'fraca'))).toBe('InvalidPasswordException');
    await accounts.signUp(' Ana@Example.com ', 'Segura#2026');
    expect(await refusal(() => accounts.signUp('ana@example.com', 'Segura#2026'))).toBe('UsernameExistsException');
    expect(lines).toEqual([`[local mail] to ana@example.com: Your Ghostless confirmation code: ${lastCode('ana@example.com')}`]);
    expect(await refusal(() => accounts.signIn('ana@example.com', 'Segura#2026'))).toBe('UserNotConfirmedException');
    expect(await refusal(() => accounts.confirm('ana@example.com', 'nope'))).toBe('CodeMismatchException');
    await accounts.confirm('ana@example.com', lastCode('ana@example.com'));
    expect(accounts.signIn('ANA@example.com', 'Segura#2026').email).toBe('ana@example.com');
    expect(await refusal(() => accounts.signIn('ana@example.com', 'Errada#2026'))).toBe('NotAuthorizedException');
  });

  it('answers an unknown address exactly as a known one, and a wrong code the same way', async () => {
    const { accounts, lines } = pool();
    expect(await refusal(() => accounts.forgotPassword('nobody@example.com'))).toBe('');
    expect(await refusal(() => accounts.resendCode('nobody@example.com'))).toBe('');
    expect(await refusal(() => accounts.signIn('nobody@example.com', 'Segura#2026'))).toBe('NotAuthorizedException');
    expect(await refusal(() => accounts.resetPassword('nobody@example.com', '123456', 'Nova#20260'))).toBe('CodeMismatchException');
    expect(await refusal(() => accounts.confirm('nobody@example.com', '123456'))).toBe('CodeMismatchException');
    expect(lines).toEqual([]);
  });

  it('resets a forgotten password with a code that expires after an hour and allows five tries', async () => {
    const { accounts, lastCode } = pool();
    await accounts.signUp('bia@example.com', 'Segura#2026');
    await accounts.confirm('bia@example.com', lastCode('bia@example.com'));
    vi.useFakeTimers({ now: Date.now() });
    await accounts.forgotPassword('bia@example.com');
    const code = lastCode('bia@example.com');
    expect(await refusal(() => accounts.resetPassword('bia@example.com', code, 'fraca'))).toBe('InvalidPasswordException');
    vi.advanceTimersByTime(61 * 60 * 1000);
    expect(await refusal(() => accounts.resetPassword('bia@example.com', code, 'Nova#20260'))).toBe('ExpiredCodeException');

    await accounts.forgotPassword('bia@example.com');
    const fresh = lastCode('bia@example.com');
    const wrong = fresh === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i++) {
      expect(await refusal(() => accounts.resetPassword('bia@example.com', wrong, 'Nova#20260'))).toBe('CodeMismatchException');
    }
    expect(await refusal(() => accounts.resetPassword('bia@example.com', fresh, 'Nova#20260'))).toBe('LimitExceededException');

    await accounts.forgotPassword('bia@example.com');
    await accounts.resetPassword('bia@example.com', lastCode('bia@example.com'), 'Nova#20260');
    expect(await refusal(() => accounts.signIn('bia@example.com', 'Segura#2026'))).toBe('NotAuthorizedException');
    expect(accounts.signIn('bia@example.com', 'Nova#20260').email).toBe('bia@example.com');
    // Five codes within the hour (the first one is older): the sixth is refused until the hour passes.
    for (let i = 0; i < 3; i++) await accounts.forgotPassword('bia@example.com');
    expect(await refusal(() => accounts.forgotPassword('bia@example.com'))).toBe('LimitExceededException');
  });

  it('keeps accounts and sign-out-everywhere generations across a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ghostless-accounts-'));
    try {
      const file = join(dir, 'local-accounts.json');
      const first = pool(file);
      await first.accounts.signUp('caio@example.com', 'Segura#2026');
      await first.accounts.confirm('caio@example.com', first.lastCode('caio@example.com'));
      const { sub } = first.accounts.signIn('caio@example.com', 'Segura#2026');
      expect(first.accounts.generation(sub)).toBe(0);
      expect(await first.accounts.signOutEverywhere(sub)).toBe(1);
      const again = pool(file).accounts;
      expect(again.signIn('caio@example.com', 'Segura#2026').sub).toBe(sub);
      expect(again.generation(sub)).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
