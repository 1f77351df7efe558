import { randomInt, randomUUID, scryptSync, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';

/**
 * The local stand-in for the Cognito user pool's account flows: sign-up confirmed by an e-mailed code,
 * e-mail + password sign-in, forgotten password (code, then a new password), and sign-out everywhere.
 * The "e-mail" is a log line and a mailbox the tests read (`GET /api/local/mailbox?email=…`).
 *
 * Refusals carry the Cognito error type (`CodeMismatchException`, …) so the SPA reads both alike, and
 * follow the pool's settings (infra/constructs/user-pool.ts): its password policy, e-mail codes, and
 * `preventUserExistenceErrors` (no answer tells whether an address has an account).
 *
 * Sign-out everywhere bumps the user's token generation; the local authorizer refuses tokens of an older
 * generation (the `gen` claim).
 */

/** A refusal carrying the Cognito error type the SPA maps to words (`CodeMismatchException`, …). */
export type AccountRefusal = Error & { name: 'AccountRefusal'; code: string };
export const refuse = (code: string, message: string): AccountRefusal =>
  Object.assign(new Error(message), { name: 'AccountRefusal' as const, code });
export const isRefusal = (error: unknown): error is AccountRefusal => error instanceof Error && error.name === 'AccountRefusal';

export interface LocalMail {
  to: string;
  subject: string;
  text: string;
  code: string;
  sentAt: string;
}

interface Code {
  code: string;
  expiresAt: number;
  failures: number;
}

interface Account {
  sub: string;
  salt: string;
  hash: string;
  confirmed: boolean;
  signUpCode?: Code;
  resetCode?: Code;
  /** When the last reset codes were sent (for the LimitExceededException). */
  resetsSent?: number[];
}

interface Saved {
  accounts: Record<string, Account>;
  generations: Record<string, number>;
}

const SIGN_UP_CODE_TTL_MS = 24 * 60 * 60 * 1000;
const RESET_CODE_TTL_MS = 60 * 60 * 1000;
const MAX_CODE_FAILURES = 5;
const MAX_RESETS_PER_HOUR = 5;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** The pool's policy: 8+ characters with lower- and upper-case letters, digits and symbols. */
const meetsPasswordPolicy = (password: string) =>
  password.length >= 8 && /[a-z]/.test(password) && /[A-Z]/.test(password) && /\d/.test(password) && /[^A-Za-z0-9]/.test(password);

const hashPassword = (password: string, salt: string) => scryptSync(password, salt, 32).toString('base64');

export class LocalAccounts {
  private readonly accounts = new Map<string, Account>();
  private readonly generations = new Map<string, number>();
  private readonly mail = new Map<string, LocalMail[]>();

  /** `file`: where accounts and token generations persist across restarts (none: memory only). */
  constructor(
    private readonly file?: string,
    private readonly log: (line: string) => void = (line) => console.log(line),
  ) {
    if (!file) return;
    try {
      const saved = JSON.parse(readFileSync(file, 'utf8')) as Saved;
      for (const [email, account] of Object.entries(saved.accounts ?? {})) this.accounts.set(email, account);
      for (const [sub, generation] of Object.entries(saved.generations ?? {})) this.generations.set(sub, generation);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }

  private saving: Promise<void> = Promise.resolve();
  private save(): Promise<void> {
    const file = this.file;
    if (!file) return Promise.resolve();
    const saved: Saved = { accounts: Object.fromEntries(this.accounts), generations: Object.fromEntries(this.generations) };
    this.saving = this.saving.then(() => writeFile(file, JSON.stringify(saved), { mode: 0o600 }));
    return this.saving;
  }

  /** The token generation of a user: tokens carrying an older one are refused. */
  generation(sub: string): number {
    return this.generations.get(sub) ?? 0;
  }

  /** Sign-out everywhere: every token issued so far for this user stops working. */
  async signOutEverywhere(sub: string): Promise<number> {
    const next = this.generation(sub) + 1;
    this.generations.set(sub, next);
    await this.save();
    return next;
  }

  mailbox(email: string): LocalMail[] {
    return this.mail.get(normalize(email)) ?? [];
  }

  private send(email: string, subject: string, code: string) {
    const text = `${subject}: ${code}`;
    this.mail.set(email, [...this.mailbox(email), { to: email, subject, text, code, sentAt: new Date().toISOString() }].slice(-20));
    this.log(`[local mail] to ${email}: ${text}`);
  }

  private newCode(ttlMs: number): Code {
    return { code: String(randomInt(0, 1_000_000)).padStart(6, '0'), expiresAt: Date.now() + ttlMs, failures: 0 };
  }

  async signUp(rawEmail: string, password: string): Promise<{ userSub: string }> {
    const email = normalize(rawEmail);
    if (!EMAIL.test(email)) throw refuse('InvalidParameterException', 'Invalid email address format.');
    if (!meetsPasswordPolicy(password)) throw refuse('InvalidPasswordException', 'Password did not conform with policy.');
    if (this.accounts.has(email)) throw refuse('UsernameExistsException', 'An account with the given email already exists.');
    const salt = randomUUID();
    const account: Account = { sub: randomUUID(), salt, hash: hashPassword(password, salt), confirmed: false };
    account.signUpCode = this.newCode(SIGN_UP_CODE_TTL_MS);
    this.accounts.set(email, account);
    this.send(email, 'Your Ghostless confirmation code', account.signUpCode.code);
    await this.save();
    return { userSub: account.sub };
  }

  async resendCode(rawEmail: string): Promise<void> {
    const email = normalize(rawEmail);
    const account = this.accounts.get(email);
    if (!account || account.confirmed) return; // says nothing about the address
    account.signUpCode = this.newCode(SIGN_UP_CODE_TTL_MS);
    this.send(email, 'Your Ghostless confirmation code', account.signUpCode.code);
    await this.save();
  }

  async confirm(rawEmail: string, code: string): Promise<void> {
    const account = this.accounts.get(normalize(rawEmail));
    if (account?.confirmed) return;
    this.check(account?.signUpCode, code);
    (account as Account).confirmed = true;
    (account as Account).signUpCode = undefined;
    await this.save();
  }

  /** The user's `sub` when the password is right and the address confirmed. */
  signIn(rawEmail: string, password: string): { sub: string; email: string } {
    const email = normalize(rawEmail);
    const account = this.accounts.get(email);
    // The same work and the same answer whether or not the address has an account.
    const hash = Buffer.from(hashPassword(password, account?.salt ?? 'no-such-account'), 'base64');
    if (!account || !timingSafeEqual(hash, Buffer.from(account.hash, 'base64'))) {
      throw refuse('NotAuthorizedException', 'Incorrect username or password.');
    }
    if (!account.confirmed) throw refuse('UserNotConfirmedException', 'User is not confirmed.');
    return { sub: account.sub, email };
  }

  async forgotPassword(rawEmail: string): Promise<void> {
    const email = normalize(rawEmail);
    const account = this.accounts.get(email);
    if (!account) return; // preventUserExistenceErrors: the same answer as for a real account
    const now = Date.now();
    const recent = (account.resetsSent ?? []).filter((at) => now - at < 60 * 60 * 1000);
    if (recent.length >= MAX_RESETS_PER_HOUR) {
      throw refuse('LimitExceededException', 'Attempt limit exceeded, please try after some time.');
    }
    account.resetsSent = [...recent, now];
    account.resetCode = this.newCode(RESET_CODE_TTL_MS);
    this.send(email, 'Your Ghostless password reset code', account.resetCode.code);
    await this.save();
  }

  async resetPassword(rawEmail: string, code: string, password: string): Promise<void> {
    const account = this.accounts.get(normalize(rawEmail));
    if (!meetsPasswordPolicy(password)) throw refuse('InvalidPasswordException', 'Password did not conform with policy.');
    this.check(account?.resetCode, code);
    const salt = randomUUID();
    Object.assign(account as Account, { salt, hash: hashPassword(password, salt), resetCode: undefined, confirmed: true });
    await this.save();
  }

  /** An unknown address reads as a wrong code (no answer tells whether it has an account). */
  private check(expected: Code | undefined, code: string) {
    if (!expected) throw refuse('CodeMismatchException', 'Invalid verification code provided, please try again.');
    if (expected.failures >= MAX_CODE_FAILURES) {
      throw refuse('LimitExceededException', 'Attempt limit exceeded, please try after some time.');
    }
    if (expected.expiresAt < Date.now()) throw refuse('ExpiredCodeException', 'Invalid code provided, please request a code again.');
    if (expected.code !== code) {
      expected.failures++;
      throw refuse('CodeMismatchException', 'Invalid verification code provided, please try again.');
    }
  }
}

const normalize = (email: string) => email.trim().toLowerCase();
