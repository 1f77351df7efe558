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

  it.each([
    ['no body', null],
    ['an array', []],
    ['no keys', { endpoint: FCM }],
    ['a foreign endpoint', { endpoint: 'https://attacker.test/x', keys }],
    ['an endpoint too long', { endpoint: `${FCM}/${'a'.repeat(1100)}`, keys }],
    ['a short p256dh', { endpoint: FCM, keys: { ...keys, p256dh: 'AAAA' } }],
    [
      'a p256dh off the curve',
      { endpoint: FCM, keys: { ...keys, p256dh: Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]).toString('base64url') } },
    ],
    ['a p256dh that is not base64url', { endpoint: FCM, keys: { ...keys, p256dh: '!!!' } }],
    ['a short auth', { endpoint: FCM, keys: { ...keys, auth: randomBytes(8).toString('base64url') } }],
    ['an unknown language', { endpoint: FCM, keys, lang: 'fr' }],
  ])('refuses %s with a clear 400', (_what, body) => {
    expect(() => parsePushSubscription(body, [])).toThrow(InvalidRequest);
  });

  it('reads the endpoint a DELETE names, and refuses a body without one', () => {
    expect(parseEndpoint({ endpoint: FCM })).toBe(FCM);
    expect(() => parseEndpoint({})).toThrow(InvalidRequest);
    expect(() => parseEndpoint({ endpoint: 'x'.repeat(1025) })).toThrow(InvalidRequest);
  });
});
