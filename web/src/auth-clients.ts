import { ApiError, request } from './api';
import type { CognitoConfig, GhostlessConfig } from './config';
import { srpClient } from './srp';

/** Who is signed in. The API's user is the token's `sub`. */
export interface Session {
  userId: string;
  /** What the app calls the user: the name as typed (local), or the Cognito `name` or e-mail. */
  label: string;
}

interface Auth {
  kind: 'local' | 'cognito';
  session(): Session | null;
  /** A bearer token that is valid now, or null (signed out / expired). */
  token(): Promise<string | null>;
  /** Forgets the session here (no redirect). */
  clear(): void;
  /** Signs out here (Cognito: the refresh token is revoked). */
  signOut(): void;
  /** Signs out on every device: every token issued to this user so far stops working. Then signs out here. */
  signOutEverywhere(): Promise<void>;
}

/**
 * E-mail + password accounts: the Cognito user pool, or its local stand-in. Refusals are `AccountError`s
 * carrying Cognito's error type either way.
 */
export interface AccountAuth {
  signIn(email: string, password: string): Promise<Session>;
  /** Creates the account; a code is e-mailed to confirm it. */
  signUp(email: string, password: string): Promise<void>;
  confirm(email: string, code: string): Promise<void>;
  resendCode(email: string): Promise<void>;
  /** E-mails a code to choose a new password. Succeeds alike whether or not the address has an account. */
  forgotPassword(email: string): Promise<void>;
  /** The e-mailed code and the new password. */
  resetPassword(email: string, code: string, password: string): Promise<void>;
}

/** A refusal from the account service: Cognito's `__type` (NotAuthorizedException, CodeMismatchException, …) and its message. */
export class AccountError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AccountError';
  }
}

/** Forgot-password never tells whether an address has an account: these refusals read as "a code was sent". */
const HIDES_ACCOUNT = new Set(['UserNotFoundException', 'InvalidParameterException']);
async function forgotQuietly(send: () => Promise<unknown>) {
  try {
    await send();
  } catch (error) {
    if (!(error instanceof AccountError && HIDES_ACCOUNT.has(error.code))) throw error;
  }
}

/** Nor does the reset step: an unknown address reads as a wrong code. */
async function resetQuietly(send: () => Promise<unknown>) {
  try {
    await send();
  } catch (error) {
    if (error instanceof AccountError && error.code === 'UserNotFoundException')
      throw new AccountError('CodeMismatchException', error.message);
    throw error;
  }
}

const storage = {
  get<T>(key: string): T | null {
    try {
      const raw = localStorage.getItem(key);
      return raw ? (JSON.parse(raw) as T) : null;
    } catch {
      return null;
    }
  },
  set(key: string, value: unknown) {
    try {
      localStorage.setItem(key, JSON.stringify(value));
    } catch {
      /* storage full or disabled: the session lasts this page only */
    }
  },
  remove(key: string) {
    try {
      localStorage.removeItem(key);
    } catch {
      /* ignore */
    }
  },
};

function jwtClaims(token: string): Record<string, unknown> {
  try {
    const payload = token.split('.')[1] ?? '';
    const binary = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const json = new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
    return JSON.parse(json) as Record<string, unknown>;
  } catch {
    return {};
  }
}

const expiresAt = (token: string) => {
  const exp = jwtClaims(token).exp;
  return typeof exp === 'number' ? exp * 1000 : Number.POSITIVE_INFINITY;
};

// ---------------------------------------------------------------------------------------------
// Local: POST /api/local/token {userId} → {token}

export const USER_ID_PATTERN = /^[A-Za-z0-9_.@-]{1,64}$/;

/** "Ana Souza" → "ana-souza": what the local token endpoint accepts. */
export function toUserId(name: string) {
  return name
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .trim()
    .toLowerCase()
    .replace(/\s+/g, '-')
    .replace(/[^a-z0-9_.@-]/g, '')
    .slice(0, 64);
}

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
    if (token) {
      try {
        await this.account('sign-out-everywhere', null, token);
      } catch (error) {
        if (!(error instanceof AccountError && error.code === 'NotAuthorizedException')) throw error;
      }
    }
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

const COGNITO_TOKENS = 'ghostless.cognito';

interface CognitoTokens {
  idToken: string;
  /** Authorizes the user's own Cognito calls (GlobalSignOut). */
  accessToken?: string;
  refreshToken?: string;
}

interface AuthenticationResult {
  IdToken: string;
  AccessToken?: string;
  RefreshToken?: string;
}

export class CognitoAuth implements Auth, AccountAuth {
  readonly kind = 'cognito';
  private refreshing: Promise<CognitoTokens | null> | null = null;
  constructor(private readonly config: CognitoConfig) {}

  private async call<T>(target: string, body: Record<string, unknown>): Promise<T> {
    const endpoint = this.config.endpoint ?? `https://cognito-idp.${this.config.region}.amazonaws.com/`;
    let response: Response;
    try {
      response = await fetch(endpoint, {
        method: 'POST',
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `AWSCognitoIdentityProviderService.${target}` },
        body: JSON.stringify(body),
      });
    } catch (error) {
      throw new AccountError('NetworkError', (error as Error).message);
    }
    const data = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (!response.ok) {
      const type = String(data.__type ?? data.code ?? 'UnknownError');
      throw new AccountError(type.slice(type.lastIndexOf('#') + 1), String(data.message ?? data.Message ?? response.statusText));
    }
    return data as T;
  }

  session(): Session | null {
    const tokens = storage.get<CognitoTokens>(COGNITO_TOKENS);
    if (!tokens) return null;
    const claims = jwtClaims(tokens.idToken);
    if (typeof claims.sub !== 'string') return null;
    const label = [claims.name, claims.email].find((v): v is string => typeof v === 'string' && v.length > 0);
    return { userId: claims.sub, label: label ?? claims.sub };
  }

  async token(): Promise<string | null> {
    const tokens = storage.get<CognitoTokens>(COGNITO_TOKENS);
    if (!tokens) return null;
    if (expiresAt(tokens.idToken) - 60_000 > Date.now()) return tokens.idToken;
    return (await this.refresh())?.idToken ?? null;
  }

  /** REFRESH_TOKEN_AUTH: new ID and access tokens (one call at a time); null when refused or signed out. */
  private refresh(): Promise<CognitoTokens | null> {
    const refreshToken = storage.get<CognitoTokens>(COGNITO_TOKENS)?.refreshToken;
    if (!refreshToken) return Promise.resolve(null);
    this.refreshing ??= this.call<{ AuthenticationResult?: AuthenticationResult }>('InitiateAuth', {
      AuthFlow: 'REFRESH_TOKEN_AUTH',
      ClientId: this.config.clientId,
      AuthParameters: { REFRESH_TOKEN: refreshToken },
    })
      .then((result) => {
        const fresh = result.AuthenticationResult;
        if (!fresh?.IdToken) return null;
        const tokens = { idToken: fresh.IdToken, accessToken: fresh.AccessToken, refreshToken } satisfies CognitoTokens;
        storage.set(COGNITO_TOKENS, tokens);
        return tokens;
      })
      .catch(() => null)
      .finally(() => {
        this.refreshing = null;
      });
    return this.refreshing;
  }

  /** USER_SRP_AUTH, then the PASSWORD_VERIFIER challenge. */
  async signIn(email: string, password: string): Promise<Session> {
    const srp = srpClient(this.config.userPoolId);
    const started = await this.call<{ ChallengeName?: string; ChallengeParameters: Record<string, string>; Session?: string }>(
      'InitiateAuth',
      {
        AuthFlow: 'USER_SRP_AUTH',
        ClientId: this.config.clientId,
        AuthParameters: { USERNAME: email, SRP_A: srp.A },
      },
    );
    if (started.ChallengeName !== 'PASSWORD_VERIFIER') throw new AccountError('UnsupportedChallenge', String(started.ChallengeName));
    const parameters = started.ChallengeParameters as { SALT: string; SRP_B: string; SECRET_BLOCK: string; USER_ID_FOR_SRP: string };
    const answer = await this.call<{ ChallengeName?: string; AuthenticationResult?: AuthenticationResult }>('RespondToAuthChallenge', {
      ChallengeName: 'PASSWORD_VERIFIER',
      ClientId: this.config.clientId,
      ChallengeResponses: await srp.respond(parameters, password),
      ...(started.Session ? { Session: started.Session } : {}),
    });
    const result = answer.AuthenticationResult;
    if (!result) throw new AccountError('UnsupportedChallenge', String(answer.ChallengeName));
    storage.set(COGNITO_TOKENS, {
      idToken: result.IdToken,
      accessToken: result.AccessToken,
      refreshToken: result.RefreshToken,
    } satisfies CognitoTokens);
    return this.session() as Session;
  }

  /** Creates the account; Cognito e-mails a code to confirm it. */
  async signUp(email: string, password: string): Promise<void> {
    await this.call('SignUp', {
      ClientId: this.config.clientId,
      Username: email,
      Password: password,
      UserAttributes: [{ Name: 'email', Value: email }],
    });
  }

  async confirm(email: string, code: string): Promise<void> {
    await this.call('ConfirmSignUp', { ClientId: this.config.clientId, Username: email, ConfirmationCode: code });
  }

  async resendCode(email: string): Promise<void> {
    await this.call('ResendConfirmationCode', { ClientId: this.config.clientId, Username: email });
  }

  forgotPassword(email: string): Promise<void> {
    return forgotQuietly(() => this.call('ForgotPassword', { ClientId: this.config.clientId, Username: email }));
  }

  resetPassword(email: string, code: string, password: string): Promise<void> {
    return resetQuietly(() =>
      this.call('ConfirmForgotPassword', { ClientId: this.config.clientId, Username: email, ConfirmationCode: code, Password: password }),
    );
  }

  /**
   * GlobalSignOut with the access token: Cognito revokes this user's refresh and access tokens on every
   * device. (An ID token already issued stays valid for the API until it expires, as AWS documents.)
   */
  async signOutEverywhere(): Promise<void> {
    let tokens = storage.get<CognitoTokens>(COGNITO_TOKENS);
    if (tokens?.accessToken && expiresAt(tokens.accessToken) - 60_000 < Date.now()) tokens = await this.refresh();
    if (tokens?.accessToken) {
      try {
        await this.call('GlobalSignOut', { AccessToken: tokens.accessToken });
      } catch (error) {
        // Already revoked (signed out everywhere from another device): nothing left to revoke.
        if (!(error instanceof AccountError && error.code === 'NotAuthorizedException')) throw error;
      }
    }
    this.clear();
  }

  clear() {
    storage.remove(COGNITO_TOKENS);
  }

  signOut() {
    const refreshToken = storage.get<CognitoTokens>(COGNITO_TOKENS)?.refreshToken;
    this.clear();
    // Best effort: revoke the refresh token so a copied one stops working.
    if (refreshToken) void this.call('RevokeToken', { ClientId: this.config.clientId, Token: refreshToken }).catch(() => {});
  }
}

export function createAuth(config: GhostlessConfig): LocalAuth | CognitoAuth {
  return config.auth === 'local' ? new LocalAuth(config.apiBase) : new CognitoAuth(config.auth);
}
