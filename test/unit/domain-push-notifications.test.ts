import { createECDH, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvalidRequest } from '../../lambdas/domain/errors';
import type { JobRecord, JobStatus } from '../../lambdas/domain/jobs';
import { pushNotifications } from '../../lambdas/domain/push-notifications';
import { MemoryPushSender, MemoryPushStore } from '../support/memory-edge-ports';
import { ManualClock } from '../support/memory-ports';

const ecdh = createECDH('prime256v1');
ecdh.generateKeys();
const keys = { p256dh: ecdh.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') };
const endpoint = (device: string) => `https://fcm.googleapis.com/fcm/send/${device}`;
const LOCAL = 'http://127.0.0.1:4555/push';

/** The push service over in-memory ports; the local stack's origin is allowed, as the deployment's tests add it. */
function pushSystem() {
  const clock = new ManualClock();
  const store = new MemoryPushStore();
  const sender = new MemoryPushSender();
  const logs: { message: string; fields: Record<string, unknown> }[] = [];
  const push = pushNotifications({
    store,
    sender,
    clock,
    extraOrigins: ['http://127.0.0.1:1'],
    log: (message, fields) => void logs.push({ message, fields }),
  });
  return { clock, store, sender, logs, push };
}

const ended = (status: JobStatus, refunded = false) => ({ jobId: 'job-push-1', userId: 'ana', status, refunded }) as unknown as JobRecord;

describe('push subscriptions per user', () => {
  it('stores a subscription with its language and the time it was made', async () => {
    // Prepare
    const { clock, store, push } = pushSystem();
    clock.advance(5_000);

    // Act
    const answer = await push.subscribe('ana', { endpoint: endpoint('a'), keys, lang: 'en' });

    // Assess
    expect(answer).toEqual({ subscribed: true });
    expect(await store.pushSubscriptions('ana')).toEqual([
      { endpoint: endpoint('a'), keys, lang: 'en', createdAt: '2026-01-01T00:00:05.000Z' },
    ]);
    expect(store.deleted).toEqual([]);
  });

  it('keeps the five newest devices, removing the oldest when a sixth subscribes', async () => {
    // Prepare
    const { clock, store, push } = pushSystem();
    for (const device of ['d1', 'd2', 'd3', 'd4', 'd5']) {
      await push.subscribe('ana', { endpoint: endpoint(device), keys });
      clock.advance(1_000);
    }

    // Act
    await push.subscribe('ana', { endpoint: endpoint('d6'), keys });

    // Assess
    expect(store.deleted).toEqual([{ userId: 'ana', endpoint: endpoint('d1') }]);
    expect(store.endpoints('ana')).toEqual(['d2', 'd3', 'd4', 'd5', 'd6'].map(endpoint));
  });

  it('refuses a malformed subscription and stores nothing', async () => {
    // Prepare
    const { store, push } = pushSystem();

    // Act
    const attempt = push.subscribe('ana', { endpoint: 'https://attacker.test/x', keys });

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(InvalidRequest);
    expect(store.items.size).toBe(0);
  });

  it('removes the device a DELETE names', async () => {
    // Prepare
    const { store, push } = pushSystem();
    await push.subscribe('ana', { endpoint: endpoint('a'), keys });
    await push.subscribe('ana', { endpoint: endpoint('b'), keys });

    // Act
    const answer = await push.unsubscribe('ana', { endpoint: endpoint('a') });

    // Assess
    expect(answer).toEqual({ subscribed: false });
    expect(store.endpoints('ana')).toEqual([endpoint('b')]);
  });

  it('hands out the server’s public key', async () => {
    // Act
    const answer = await pushSystem().push.publicKey();

    // Assess
    expect(answer).toEqual({ publicKey: 'BPublicKeyOfTheServer' });
  });
});

describe('the notification when a job ends', () => {
  it('tells every allowed device of the owner, each in its own language', async () => {
    // Prepare
    const { store, sender, push } = pushSystem();
    await push.subscribe('ana', { endpoint: endpoint('pt'), keys });
    await push.subscribe('ana', { endpoint: LOCAL, keys, lang: 'en' });
    await push.subscribe('bea', { endpoint: endpoint('other'), keys });

    // Act
    await push.jobEnded(ended('succeeded'));

    // Assess
    expect(sender.sent.sort((a, b) => a.endpoint.localeCompare(b.endpoint))).toEqual([
      {
        endpoint: LOCAL,
        payload: { jobId: 'job-push-1', status: 'succeeded', title: 'Your result is ready', body: 'Tap to view and download it.' },
      },
      {
        endpoint: endpoint('pt'),
        payload: { jobId: 'job-push-1', status: 'succeeded', title: 'Seu resultado está pronto', body: 'Toque para ver e baixar.' },
      },
    ]);
    expect(store.deleted).toEqual([]);
  });

  it('tells of a failure, with the refund when there was one', async () => {
    // Prepare
    const { sender, push } = pushSystem();
    await push.subscribe('ana', { endpoint: endpoint('pt'), keys });

    // Act
    await push.jobEnded(ended('failed', true));

    // Assess
    expect(sender.sent.map((s) => s.payload)).toEqual([
      {
        jobId: 'job-push-1',
        status: 'failed',
        title: 'Não foi possível concluir',
        body: 'Seus créditos foram devolvidos. Toque para ver o que aconteceu.',
      },
    ]);
  });

  it('tells of a failure without a refund in each language', async () => {
    // Prepare
    const { sender, push } = pushSystem();
    await push.subscribe('ana', { endpoint: endpoint('pt'), keys });
    await push.subscribe('ana', { endpoint: endpoint('zz-en'), keys, lang: 'en' });

    // Act
    await push.jobEnded(ended('failed'));

    // Assess
    expect(sender.sent.sort((a, b) => a.endpoint.localeCompare(b.endpoint)).map((s) => s.payload)).toEqual([
      { jobId: 'job-push-1', status: 'failed', title: 'Não foi possível concluir', body: 'Toque para ver o que aconteceu.' },
      { jobId: 'job-push-1', status: 'failed', title: 'This one could not be finished', body: 'Tap to see what happened.' },
    ]);
  });

  it.each(['cancelled', 'queued', 'running'] as const)('says nothing of a job %s', async (status) => {
    // Prepare
    const { sender, push } = pushSystem();
    await push.subscribe('ana', { endpoint: endpoint('pt'), keys });

    // Act
    await push.jobEnded(ended(status));

    // Assess
    expect(sender.sent).toEqual([]);
  });

  it('never sends to an endpoint no longer allowed, though it is stored', async () => {
    // Prepare
    const { store, sender, push } = pushSystem();
    await store.putPushSubscription('ana', {
      endpoint: 'https://attacker.test/x',
      keys,
      lang: 'en',
      createdAt: '2026-01-01T00:00:00.000Z',
    });

    // Act
    await push.jobEnded(ended('succeeded'));

    // Assess
    expect(sender.sent).toEqual([]);
  });

  it('removes a subscription the push service says is gone, and only that one', async () => {
    // Prepare
    const { store, sender, push } = pushSystem();
    await push.subscribe('ana', { endpoint: endpoint('gone'), keys });
    await push.subscribe('ana', { endpoint: endpoint('kept'), keys });
    sender.outcomes.set(endpoint('gone'), 'gone');

    // Act
    await push.jobEnded(ended('succeeded'));

    // Assess
    expect(store.deleted).toEqual([{ userId: 'ana', endpoint: endpoint('gone') }]);
    expect(store.endpoints('ana')).toEqual([endpoint('kept')]);
  });

  it('logs a send that failed with the push host, still sending to the other devices', async () => {
    // Prepare
    const { store, sender, logs, push } = pushSystem();
    await push.subscribe('ana', { endpoint: LOCAL, keys });
    await push.subscribe('ana', { endpoint: endpoint('ok'), keys });
    sender.outcomes.set(LOCAL, new Error('socket hang up'));

    // Act
    await push.jobEnded(ended('succeeded'));

    // Assess
    expect(sender.sent.map((s) => s.endpoint)).toEqual([endpoint('ok')]);
    expect(logs).toEqual([
      { message: 'push not delivered', fields: { jobId: 'job-push-1', host: '127.0.0.1:4555', error: 'socket hang up' } },
    ]);
    expect(store.endpoints('ana')).toHaveLength(2);
  });

  it('skips the notification, logging why, when the subscriptions cannot be read', async () => {
    // Prepare
    const { store, sender, logs, push } = pushSystem();
    store.readError = new Error('ProvisionedThroughputExceeded');

    // Act
    await push.jobEnded(ended('failed'));

    // Assess
    expect(sender.sent).toEqual([]);
    expect(logs).toEqual([{ message: 'push skipped', fields: { jobId: 'job-push-1', error: 'ProvisionedThroughputExceeded' } }]);
  });
});
