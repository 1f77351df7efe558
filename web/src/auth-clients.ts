import { CognitoAuth } from './auth/cognito-auth';
import { LocalAuth } from './auth/local-auth';
import type { GhostlessConfig } from './config';

export type { AccountAuth, Session } from './auth/account-session';
export { AccountError, toUserId, USER_ID_PATTERN } from './auth/account-session';
export type { CognitoAuth } from './auth/cognito-auth';
export type { LocalAuth } from './auth/local-auth';

export function createAuth(config: GhostlessConfig): LocalAuth | CognitoAuth {
  return config.auth === 'local' ? new LocalAuth(config.apiBase) : new CognitoAuth(config.auth);
}
