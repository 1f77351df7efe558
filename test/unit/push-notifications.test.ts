import { createECDH, createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { vapidKeysFrom } from '../../lambdas/adapters/web-push-sender';
import { pushMessage } from '../../lambdas/domain/push-notifications';

describe('the VAPID key pair', () => {
  it('derives the same valid P-256 key pair from the same secret, and another one from another secret', () => {
    const keys = vapidKeysFrom('secret-a');
    expect(vapidKeysFrom('secret-a')).toEqual(keys);
    expect(vapidKeysFrom('secret-b').publicKey).not.toBe(keys.publicKey);
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(Buffer.from(keys.privateKey, 'base64url'));
    expect(ecdh.getPublicKey().toString('base64url')).toBe(keys.publicKey);
    // A signature made with the private key verifies with the public key.
    const point = Buffer.from(keys.publicKey, 'base64url');
    const jwk = { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') };
    const privateKey = createPrivateKey({ key: { ...jwk, d: keys.privateKey }, format: 'jwk' });
    const signature = sign('sha256', Buffer.from('hello'), privateKey);
    expect(verify('sha256', Buffer.from('hello'), createPublicKey({ key: jwk, format: 'jwk' }), signature)).toBe(true);
  });
});

describe('the push message', () => {
  const job = { jobId: 'j-1', refunded: false };

  it('says a result is ready in Portuguese and in English', () => {
    expect(pushMessage({ ...job, status: 'succeeded' }, 'pt-BR')).toMatchObject({
      jobId: 'j-1',
      status: 'succeeded',
      title: 'Seu resultado está pronto',
    });
    expect(pushMessage({ ...job, status: 'succeeded' }, 'en')).toMatchObject({ title: 'Your result is ready' });
  });

  it('says a failure is not a result, and mentions the refund only when there was one', () => {
    const failed = pushMessage({ ...job, status: 'failed' }, 'pt-BR');
    expect(failed.title).toBe('Não foi possível concluir');
    expect(failed.body).not.toMatch(/créditos/);
    expect(pushMessage({ ...job, status: 'failed', refunded: true }, 'pt-BR').body).toMatch(/créditos foram devolvidos/);
    expect(pushMessage({ ...job, status: 'failed', refunded: true }, 'en').body).toMatch(/credits were returned/);
  });
});
