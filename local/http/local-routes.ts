import type { IncomingMessage, ServerResponse } from 'node:http';
import { signLocalToken, USER_ID_PATTERN } from '../auth';
import { HttpError, parseJsonObject, readBody, sendJson } from './request-io';

/** Routes only the local stack has (no counterpart on AWS): sign in as any user, set a user's balance. */
export interface LocalRoutesOptions {
  jwtSecret: Uint8Array;
  /** Backs `POST /api/local/credits`. */
  setBalance: (userId: string, balance: number) => Promise<number>;
}

export const isLocalRoute = (rawPath: string): boolean => rawPath === '/api/local/token' || rawPath === '/api/local/credits';

/** `POST /api/local/token` → `{token}`; `POST /api/local/credits` → `{balance}`. Any other method: 404. */
export async function handleLocalRoute(
  req: IncomingMessage,
  res: ServerResponse,
  rawPath: string,
  options: LocalRoutesOptions,
): Promise<void> {
  const method = req.method ?? 'GET';
  if (method !== 'POST') throw new HttpError(404, 'NOT_FOUND', `No route for ${method} ${rawPath}.`);
  const input = parseJsonObject(await readBody(req));
  const userId = input.userId;
  if (typeof userId !== 'string' || !USER_ID_PATTERN.test(userId)) {
    throw new HttpError(400, 'INVALID_REQUEST', 'userId must be 1 to 64 characters of letters, digits, "_", "-", "." or "@".');
  }
  if (rawPath === '/api/local/token') {
    sendJson(res, 200, { token: await signLocalToken(options.jwtSecret, userId) }, { 'cache-control': 'no-store' });
    return;
  }
  const balance = input.balance;
  if (typeof balance !== 'number' || !Number.isSafeInteger(balance) || balance < 0) {
    throw new HttpError(400, 'INVALID_REQUEST', 'balance must be a non-negative whole number.');
  }
  sendJson(res, 200, { balance: await options.setBalance(userId, balance) }, { 'cache-control': 'no-store' });
}
