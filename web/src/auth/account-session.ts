/** What both sign-in clients share: the session, the account interface and its errors, token and storage helpers. */

/** Who is signed in. The API's user is the token's `sub`. */
export interface Session {
  userId: string;
  /** What the app calls the user: the name as typed (local), or the Cognito `name` or e-mail. */
  label: string;
}

export interface Auth {
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
export async function forgotQuietly(send: () => Promise<unknown>) {
  try {
    await send();
  } catch (error) {
    if (!(error instanceof AccountError && HIDES_ACCOUNT.has(error.code))) throw error;
  }
}

/** Nor does the reset step: an unknown address reads as a wrong code. */
export async function resetQuietly(send: () => Promise<unknown>) {
  try {
    await send();
  } catch (error) {
    if (error instanceof AccountError && error.code === 'UserNotFoundException')
      throw new AccountError('CodeMismatchException', error.message);
    throw error;
  }
}

/**
 * Signing out everywhere revokes every token of the user; an answer that this session is already revoked (signed out
 * everywhere from another device) means nothing is left to revoke, so it counts as done.
 */
export async function revokeEverywhere(send: () => Promise<unknown>) {
  try {
    await send();
  } catch (error) {
    if (!(error instanceof AccountError && error.code === 'NotAuthorizedException')) throw error;
  }
}

export const storage = {
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

export function jwtClaims(token: string): Record<string, unknown> {
  try {
    const payload = token.split('.')[1] ?? '';
    const binary = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const json = new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
    return JSON.parse(json) as Record<string, unknown>;
  } catch {
    return {};
  }
}

export const expiresAt = (token: string) => {
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
