import { ApiError, request } from '../api';
import {
  type AccountAuth,
  AccountError,
  type Auth,
  expiresAt,
  forgotQuietly,
  resetQuietly,
  revokeEverywhere,
  type Session,
  storage,
  USER_ID_PATTERN,
} from './account-session';

const LOCAL_SESSION = 'ghostless.session';
const RECENT = 'ghostless.recentUsers';

interface LocalSession {
  userId: string;
  token: string;
  /** The name as typed ("Maria da Conceição"), not its id ("maria-da-conceicao"). */
  name?: string;
}

export interface RecentUser {
  userId: string;
  name: string;
}

export class LocalAuth implements Auth {
  readonly kind = 'local';
  constructor(private readonly apiBase: string) {}

  session(): Session | null {
    const stored = storage.get<LocalSession>(LOCAL_SESSION);
    if (!stored || expiresAt(stored.token) < Date.now()) return null;
    return { userId: stored.userId, label: stored.name || stored.userId };
  }

  async token() {
    const stored = storage.get<LocalSession>(LOCAL_SESSION);
    return stored && expiresAt(stored.token) > Date.now() ? stored.token : null;
  }

  async signIn(userId: string, name = userId): Promise<Session> {
    const { token } = await request<{ token: string }>(`${this.apiBase}/local/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId }),
    });
    storage.set(LOCAL_SESSION, { userId, token, name } satisfies LocalSession);
    storage.set(RECENT, [{ userId, name }, ...this.recent().filter((u) => u.userId !== userId)].slice(0, 6));
    return { userId, label: name };
  }

  recent(): RecentUser[] {
    const list = storage.get<unknown>(RECENT);
    if (!Array.isArray(list)) return [];
    // Older versions stored bare ids.
    return list
      .map((u) => (typeof u === 'string' ? { userId: u, name: u } : (u as RecentUser)))
      .filter((u) => typeof u?.userId === 'string' && USER_ID_PATTERN.test(u.userId) && typeof u.name === 'string');
  }

  /** Local only: sets the balance (the dev "add credits" button). */
  async setBalance(balance: number): Promise<number> {
    const session = this.session();
    if (!session) throw new ApiError(401, 'UNAUTHORIZED', 'Not signed in');
    const body = await request<{ balance: number }>(`${this.apiBase}/local/credits`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: session.userId, balance }),
    });
    return body.balance;
  }

  /** The local stand-in for the Cognito account flows (local/accounts.ts); the "e-mail" is the stack's log and mailbox. */
  readonly accounts: AccountAuth = {
    signIn: async (email, password) => {
      const { userId, token } = await this.account<{ userId: string; token: string }>('sign-in', { email, password });
      storage.set(LOCAL_SESSION, { userId, token, name: email } satisfies LocalSession);
      return { userId, label: email };
    },
    signUp: async (email, password) => void (await this.account('sign-up', { email, password })),
    confirm: async (email, code) => void (await this.account('confirm', { email, code })),
    resendCode: async (email) => void (await this.account('resend-code', { email })),
    forgotPassword: (email) => forgotQuietly(() => this.account('forgot-password', { email })),
    resetPassword: (email, code, password) => resetQuietly(() => this.account('reset-password', { email, code, password })),
  };

  private async account<T>(action: string, body: Record<string, unknown> | null, token?: string): Promise<T> {
    try {
      return await request<T>(`${this.apiBase}/local/account/${action}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body ?? {}),
      });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      throw new AccountError(error.status === 0 ? 'NetworkError' : error.code, error.message);
    }
  }

  /** Bumps the user's token generation: the local authorizer refuses every older token, on any device. */
  async signOutEverywhere(): Promise<void> {
    const token = await this.token();
    if (token) await revokeEverywhere(() => this.account('sign-out-everywhere', null, token));
    this.clear();
  }

  clear() {
    storage.remove(LOCAL_SESSION);
  }

  signOut() {
    this.clear();
  }
}

// ---------------------------------------------------------------------------------------------
// Cognito user pool: e-mail + password over SRP (the pool's web client allows USER_SRP_AUTH), self sign-up
// with an e-mailed code; the ID token is the bearer, the refresh token renews it.
