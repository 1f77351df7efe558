import { ECDH } from 'node:crypto';
import { InvalidRequest } from './errors';

const PUSH_LANGS = ['pt-BR', 'en'] as const;
export type PushLang = (typeof PUSH_LANGS)[number];

/** What the browser's `PushSubscription.toJSON()` gives, plus the language the user reads. */
export interface PushSubscriptionInput {
  endpoint: string;
  keys: { p256dh: string; auth: string };
  lang: PushLang;
}

/**
 * Push services browsers subscribe with (Chrome/FCM, Firefox, Safari, Edge). Only these are ever sent to: the
 * finalize path must not become a way to make Ghostless POST to any address a user names.
 */
const PUSH_SERVICE_HOSTS = ['fcm.googleapis.com', 'push.services.mozilla.com', 'push.apple.com', 'notify.windows.com'];
const MAX_ENDPOINT_CHARS = 1024;

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const base64url = (value: unknown) =>
  typeof value === 'string' && /^[A-Za-z0-9_-]+={0,2}$/.test(value) ? Buffer.from(value, 'base64url') : null;

/** True when pushes may go to this endpoint: https on a known push service, or an origin the deployment adds (the local stack's tests). */
export function pushEndpointAllowed(endpoint: string, extraOrigins: readonly string[]): boolean {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return false;
  }
  if (url.username || url.password) return false;
  // Extra origins match protocol and host; any port (a test's endpoint listens on a free one).
  const base = (u: URL) => `${u.protocol}//${u.hostname}`;
  if (extraOrigins.some((origin) => URL.canParse(origin) && base(new URL(origin)) === base(url))) return true;
  return url.protocol === 'https:' && PUSH_SERVICE_HOSTS.some((host) => url.hostname === host || url.hostname.endsWith(`.${host}`));
}

/** Checks a subscription body; anything malformed is a 400 and nothing is stored. */
export function parsePushSubscription(body: unknown, extraOrigins: readonly string[]): PushSubscriptionInput {
  if (!isObject(body) || !isObject(body.keys))
    throw new InvalidRequest('The body must be a push subscription: {endpoint, keys: {p256dh, auth}}.');
  const { endpoint, keys, lang = 'pt-BR' } = body;
  if (typeof endpoint !== 'string' || endpoint.length > MAX_ENDPOINT_CHARS || !pushEndpointAllowed(endpoint, extraOrigins)) {
    throw new InvalidRequest('endpoint must be the https address of a browser push service.');
  }
  const p256dh = base64url(keys.p256dh);
  // An uncompressed P-256 point (65 bytes) that is really on the curve: encryption to it must be possible.
  if (p256dh?.length !== 65 || !onCurve(p256dh)) throw new InvalidRequest('keys.p256dh must be a P-256 public key (base64url).');
  const auth = base64url(keys.auth);
  if (auth?.length !== 16) throw new InvalidRequest('keys.auth must be a 16-byte secret (base64url).');
  if (typeof lang !== 'string' || !(PUSH_LANGS as readonly string[]).includes(lang)) {
    throw new InvalidRequest(`lang must be one of ${PUSH_LANGS.join(', ')}.`);
  }
  return { endpoint, keys: { p256dh: keys.p256dh as string, auth: keys.auth as string }, lang: lang as PushLang };
}

/** The endpoint named by a DELETE body (`{endpoint}` or a whole subscription). */
export function parseEndpoint(body: unknown): string {
  if (!isObject(body) || typeof body.endpoint !== 'string' || body.endpoint.length > MAX_ENDPOINT_CHARS) {
    throw new InvalidRequest('The body must name the subscription: {endpoint}.');
  }
  return body.endpoint;
}

function onCurve(point: Buffer) {
  try {
    ECDH.convertKey(point, 'prime256v1');
    return true;
  } catch {
    return false;
  }
}
