import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errors, type JWTPayload, jwtVerify, SignJWT } from 'jose';

/** The local stand-in for the API Gateway JWT authorizer: HS256 tokens signed by a key kept in DATA_DIR. */

const LOCAL_ISSUER = 'ghostless-local';
const LOCAL_AUDIENCE = 'ghostless';
const LOCAL_TOKEN_TTL_SECONDS = 12 * 60 * 60;
/** What the local token endpoint accepts as a user id. */
export const USER_ID_PATTERN = /^[A-Za-z0-9_.@-]{1,64}$/;

/** Reads `<dataDir>/jwt-secret`, creating it (32 random bytes, base64url, mode 0600) on first start. */
export async function loadOrCreateJwtSecret(dataDir: string): Promise<Uint8Array> {
  const file = join(dataDir, 'jwt-secret');
  try {
    const text = (await readFile(file, 'utf8')).trim();
    if (text) return Buffer.from(text, 'base64url');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dataDir, { recursive: true });
  const secret = randomBytes(32);
  try {
    await writeFile(file, `${secret.toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
    return secret;
  } catch (error) {
    // Another process created it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return loadOrCreateJwtSecret(dataDir);
    throw error;
  }
}

export interface LocalTokenOptions {
  /** Seconds from now; negative values make an already-expired token (for tests). */
  expiresInSeconds?: number;
  claims?: Record<string, unknown>;
}

/** Signs a token the local API accepts, `sub` = userId. */
export async function signLocalToken(secret: Uint8Array, userId: string, options: LocalTokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ ...options.claims })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuer(LOCAL_ISSUER)
    .setAudience(LOCAL_AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(now + (options.expiresInSeconds ?? LOCAL_TOKEN_TTL_SECONDS))
    .sign(secret);
}

export class Unauthorized extends Error {
  override name = 'Unauthorized';
}

/** API Gateway hands JWT claims to Lambda as strings: numbers/booleans stringified, arrays as `[a b]`. */
function toApiGatewayClaims(payload: JWTPayload): Record<string, string> {
  const claims: Record<string, string> = {};
  for (const [name, value] of Object.entries(payload)) {
    if (value === undefined || value === null) continue;
    if (typeof value === 'string') claims[name] = value;
    else if (Array.isArray(value)) claims[name] = `[${value.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))).join(' ')}]`;
    else if (typeof value === 'object') claims[name] = JSON.stringify(value);
    else claims[name] = String(value);
  }
  return claims;
}

/**
 * Verifies `Authorization: Bearer <jwt>` like the HTTP API JWT authorizer: signature (HS256 only, so
 * `alg: none` and other algorithms fail), issuer, audience, and a required, unexpired `exp`.
 */
export async function verifyBearer(
  authorization: string | undefined,
  secret: Uint8Array,
  /** The user's token generation (local sign-out everywhere): a token whose `gen` is older is refused. */
  generationOf: (sub: string) => number = () => 0,
): Promise<{ claims: Record<string, string>; scopes: string[] | null }> {
  if (!authorization) throw new Unauthorized('Missing Authorization header: send "Authorization: Bearer <token>".');
  const match = /^Bearer +([^ ]+) *$/i.exec(authorization);
  if (!match) throw new Unauthorized('The Authorization header must be "Bearer <token>".');
  try {
    const { payload } = await jwtVerify(match[1] as string, secret, {
      algorithms: ['HS256'],
      issuer: LOCAL_ISSUER,
      audience: LOCAL_AUDIENCE,
      requiredClaims: ['exp'],
    });
    const generation = typeof payload.gen === 'number' ? payload.gen : 0;
    if (generation < generationOf(String(payload.sub)))
      throw new Unauthorized('The token was revoked (signed out everywhere); sign in again.');
    const scope = typeof payload.scope === 'string' ? payload.scope : typeof payload.scp === 'string' ? payload.scp : '';
    return { claims: toApiGatewayClaims(payload), scopes: scope ? scope.split(' ').filter(Boolean) : null };
  } catch (error) {
    if (error instanceof Unauthorized) throw error;
    if (error instanceof errors.JWTExpired) throw new Unauthorized('The token has expired; sign in again.');
    if (error instanceof errors.JOSEAlgNotAllowed)
      throw new Unauthorized('The token is signed with an algorithm this API does not accept.');
    if (error instanceof errors.JWSSignatureVerificationFailed) throw new Unauthorized('The token signature is invalid.');
    if (error instanceof errors.JWTClaimValidationFailed) throw new Unauthorized(`The token is not valid here: ${error.message}.`);
    throw new Unauthorized('The token is malformed.');
  }
}
