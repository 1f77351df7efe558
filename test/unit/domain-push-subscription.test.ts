import { createECDH, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvalidRequest } from '../../lambdas/domain/errors';
import { parseEndpoint, parsePushSubscription, pushEndpointAllowed } from '../../lambdas/domain/push-subscription';

const ecdh = createECDH('prime256v1');
ecdh.generateKeys();
const keys = { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') };
const FCM = 'https://fcm.googleapis.com/fcm/send/abc';

describe('push endpoints', () => {
  it('allows https on the browsers’ push services and their subdomains only', () => {
    expect(pushEndpointAllowed(FCM, [])).toBe(true);
    expect(pushEndpointAllowed('https://web.push.apple.com/x', [])).toBe(true);
    expect(pushEndpointAllowed('https://updates.push.services.mozilla.com/wpush/v2/x', [])).toBe(true);
    expect(pushEndpointAllowed('http://fcm.googleapis.com/x', [])).toBe(false);
    expect(pushEndpointAllowed('https://evilfcm.googleapis.com.attacker.test/x', [])).toBe(false);
    expect(pushEndpointAllowed('https://user:pw@fcm.googleapis.com/x', [])).toBe(false);
    expect(pushEndpointAllowed('not a url', [])).toBe(false);
  });

  it('allows an extra origin on any port, matching protocol and host', () => {
    expect(pushEndpointAllowed('http://127.0.0.1:4555/p', ['http://127.0.0.1:1'])).toBe(true);
    expect(pushEndpointAllowed('https://127.0.0.1:4555/p', ['http://127.0.0.1:1'])).toBe(false);
    expect(pushEndpointAllowed('http://127.0.0.2:4555/p', ['http://127.0.0.1:1'])).toBe(false);
  });
});

describe('push subscriptions', () => {
  it('keeps a valid subscription with its language, pt-BR by default', () => {
    expect(parsePushSubscription({ endpoint: FCM, keys }, [])).toEqual({ endpoint: FCM, keys, lang: 'pt-BR' });
    expect(parsePushSubscription({ endpoint: FCM, keys, lang: 'en' }, []).lang).toBe('en');
  });

  const BODY = 'The body must be a push subscription: {endpoint, keys: {p256dh, auth}}.';
  const ENDPOINT = 'endpoint must be the https address of a browser push service.';
  const P256DH = 'keys.p256dh must be a P-256 public key (base64url).';
  const AUTH = 'keys.auth must be a 16-byte secret (base64url).';
  it.each([
    ['no body', null, BODY],
    ['an array', [], BODY],
    ['no keys', { endpoint: FCM }, BODY],
    ['keys that are an array', { endpoint: FCM, keys: [] }, BODY],
    ['no endpoint', { keys }, ENDPOINT],
    ['a foreign endpoint', { endpoint: 'https://attacker.test/x', keys }, ENDPOINT],
    ['an endpoint with a user name', { endpoint: 'https://user@fcm.googleapis.com/x', keys }, ENDPOINT],
    ['an endpoint with a password only', { endpoint: 'https://:pw@fcm.googleapis.com/x', keys }, ENDPOINT],
    ['an endpoint too long', { endpoint: `${FCM}/${'a'.repeat(1025 - FCM.length - 1)}`, keys }, ENDPOINT],
    ['a short p256dh', { endpoint: FCM, keys: { ...keys, p256dh: 'AAAA' } }, P256DH],
    [
      'a p256dh off the curve',
      { endpoint: FCM, keys: { ...keys, p256dh: Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]).toString('base64url') } },
      P256DH,
    ],
    ['a p256dh that is not base64url', { endpoint: FCM, keys: { ...keys, p256dh: '!!!' } }, P256DH],
    ['a p256dh with a foreign character before it', { endpoint: FCM, keys: { ...keys, p256dh: `!${keys.p256dh}` } }, P256DH],
    ['a p256dh with a foreign character after it', { endpoint: FCM, keys: { ...keys, p256dh: `${keys.p256dh}!` } }, P256DH],
    ['a p256dh that is a number', { endpoint: FCM, keys: { ...keys, p256dh: 12345 } }, P256DH],
    ['no auth', { endpoint: FCM, keys: { p256dh: keys.p256dh } }, AUTH],
    ['a short auth', { endpoint: FCM, keys: { ...keys, auth: randomBytes(8).toString('base64url') } }, AUTH],
    ['an unknown language', { endpoint: FCM, keys, lang: 'fr' }, 'lang must be one of pt-BR, en.'],
    ['a language that is not a string', { endpoint: FCM, keys, lang: 1 }, 'lang must be one of pt-BR, en.'],
  ])('refuses %s with a clear 400', (_what, body, message) => {
    expect(() => parsePushSubscription(body, [])).toThrow(new InvalidRequest(message));
  });

  it('accepts an endpoint of exactly 1,024 characters and padded base64url keys', () => {
    const endpoint = `${FCM}/${'a'.repeat(1024 - FCM.length - 1)}`;
    const auth = `${Buffer.alloc(16, 7).toString('base64url')}==`;
    expect(parsePushSubscription({ endpoint, keys: { ...keys, auth } }, []).endpoint).toHaveLength(1024);
    expect(parseEndpoint({ endpoint })).toBe(endpoint);
  });

  it('allows the subdomains of every known push service', () => {
    const hosts = ['fcm.googleapis.com', 'push.services.mozilla.com', 'push.apple.com', 'notify.windows.com'];
    expect(hosts.map((host) => pushEndpointAllowed(`https://${host}/x`, []))).toEqual([true, true, true, true]);
    expect(hosts.map((host) => pushEndpointAllowed(`https://a.${host}/x`, []))).toEqual([true, true, true, true]);
    expect(pushEndpointAllowed('https://wns2-par02p.notify.windows.com/w/?token=x', [])).toBe(true);
    expect(pushEndpointAllowed('https://127.0.0.1/x', ['not an origin'])).toBe(false);
  });

  it('reads the endpoint a DELETE names, and refuses a body without one', () => {
    expect(parseEndpoint({ endpoint: FCM })).toBe(FCM);
    const refused = new InvalidRequest('The body must name the subscription: {endpoint}.');
    expect(() => parseEndpoint({})).toThrow(refused);
    expect(() => parseEndpoint([])).toThrow(refused);
    expect(() => parseEndpoint({ endpoint: 7 })).toThrow(refused);
    expect(() => parseEndpoint({ endpoint: 'x'.repeat(1025) })).toThrow(refused);
  });
});
