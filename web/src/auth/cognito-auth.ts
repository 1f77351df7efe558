import type { CognitoConfig } from '../config';
import { srpClient } from '../srp';
import {
  type AccountAuth,
  AccountError,
  type Auth,
  expiresAt,
  forgotQuietly,
  jwtClaims,
  resetQuietly,
  revokeEverywhere,
  type Session,
  storage,
} from './account-session';

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
    const accessToken = tokens?.accessToken;
    if (accessToken) await revokeEverywhere(() => this.call('GlobalSignOut', { AccessToken: accessToken }));
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
