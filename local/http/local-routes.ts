import type { IncomingMessage, ServerResponse } from 'node:http';
import { isRefusal, LocalAccounts, refuse } from '../accounts';
import { signLocalToken, Unauthorized, USER_ID_PATTERN, verifyBearer } from '../jwt-authorizer';
import { HttpError, parseJsonObject, readBody, sendJson } from './request-io';

/**
 * Routes only the local stack has (no counterpart on AWS): sign in as any user, set a user's balance, and the
 * account flows of the Cognito user pool's stand-in (sign-up, codes by "e-mail", password reset, sign-out everywhere).
 */
export interface LocalRoutesOptions {
  jwtSecret: Uint8Array;
  /** Backs `/api/local/account/*`, `GET /api/local/mailbox` and the authorizer's sign-out-everywhere check (default: in memory). */
  accounts?: LocalAccounts;
  /** Backs `POST /api/local/credits`. */
  setBalance: (userId: string, balance: number) => Promise<number>;
}

const ACCOUNT = '/api/local/account/';
const NO_STORE = { 'cache-control': 'no-store' };

export const isLocalRoute = (rawPath: string): boolean =>
  rawPath === '/api/local/token' || rawPath === '/api/local/credits' || rawPath === '/api/local/mailbox' || rawPath.startsWith(ACCOUNT);

/** The local routes over one account store; `generationOf` is what the local authorizer checks tokens against. */
export function localRoutes(options: LocalRoutesOptions) {
  const accounts = options.accounts ?? new LocalAccounts();
  const generationOf = (sub: string) => accounts.generation(sub);
  const tokenFor = (sub: string, claims: Record<string, unknown> = {}) =>
    signLocalToken(options.jwtSecret, sub, { claims: { ...claims, gen: accounts.generation(sub) } });

  /** The account flows: JSON in, JSON out, refusals as `{error: <Cognito type>}`. */
  async function handleAccount(req: IncomingMessage, res: ServerResponse, action: string) {
    if (action === 'sign-out-everywhere') {
      let sub: string;
      try {
        sub = (await verifyBearer(req.headers.authorization, options.jwtSecret, generationOf)).claims.sub as string;
      } catch (error) {
        if (!(error instanceof Unauthorized)) throw error;
        req.resume();
        sendJson(res, 401, { error: 'NotAuthorizedException', message: error.message }, { 'www-authenticate': 'Bearer' });
        return;
      }
      req.resume();
      await accounts.signOutEverywhere(sub);
      sendJson(res, 200, {}, NO_STORE);
      return;
    }
    const input = parseJsonObject(await readBody(req));
    const text = (name: string) => {
      const value = input[name];
      if (typeof value !== 'string' || !value) throw refuse('InvalidParameterException', `${name} is required.`);
      return value;
    };
    let answer: unknown = {};
    switch (action) {
      case 'sign-up':
        answer = await accounts.signUp(text('email'), text('password'));
        break;
      case 'confirm':
        await accounts.confirm(text('email'), text('code'));
        break;
      case 'resend-code':
        await accounts.resendCode(text('email'));
        break;
      case 'sign-in': {
        const { sub, email } = accounts.signIn(text('email'), text('password'));
        answer = { userId: sub, email, token: await tokenFor(sub, { email }) };
        break;
      }
      case 'forgot-password':
        await accounts.forgotPassword(text('email'));
        break;
      case 'reset-password':
        await accounts.resetPassword(text('email'), text('code'), text('password'));
        break;
      default:
        throw new HttpError(404, 'NOT_FOUND', `No route for POST ${ACCOUNT}${action}.`);
    }
    sendJson(res, 200, answer, NO_STORE);
  }

  /**
   * `POST /api/local/token` → `{token}`; `POST /api/local/credits` → `{balance}`; `POST /api/local/account/<flow>`;
   * `GET /api/local/mailbox?email=` → `{messages}`. Any other method: 404.
   */
  async function handle(req: IncomingMessage, res: ServerResponse, rawPath: string, rawQueryString: string): Promise<void> {
    const method = req.method ?? 'GET';
    if (rawPath === '/api/local/mailbox') {
      if (method !== 'GET') throw new HttpError(404, 'NOT_FOUND', `No route for ${method} ${rawPath}.`);
      const email = new URLSearchParams(rawQueryString).get('email') ?? '';
      sendJson(res, 200, { messages: accounts.mailbox(email) }, NO_STORE);
      return;
    }
    if (method !== 'POST') throw new HttpError(404, 'NOT_FOUND', `No route for ${method} ${rawPath}.`);
    if (rawPath.startsWith(ACCOUNT)) {
      try {
        await handleAccount(req, res, rawPath.slice(ACCOUNT.length));
      } catch (error) {
        if (!isRefusal(error)) throw error;
        sendJson(res, 400, { error: error.code, message: error.message }, NO_STORE);
      }
      return;
    }
    const input = parseJsonObject(await readBody(req));
    const userId = input.userId;
    if (typeof userId !== 'string' || !USER_ID_PATTERN.test(userId)) {
      throw new HttpError(400, 'INVALID_REQUEST', 'userId must be 1 to 64 characters of letters, digits, "_", "-", "." or "@".');
    }
    if (rawPath === '/api/local/token') {
      sendJson(res, 200, { token: await tokenFor(userId) }, NO_STORE);
      return;
    }
    const balance = input.balance;
    if (typeof balance !== 'number' || !Number.isSafeInteger(balance) || balance < 0) {
      throw new HttpError(400, 'INVALID_REQUEST', 'balance must be a non-negative whole number.');
    }
    sendJson(res, 200, { balance: await options.setBalance(userId, balance) }, NO_STORE);
  }

  return { handle, generationOf };
}
