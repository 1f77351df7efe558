import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { assertInvariants } from '../support/invariants';
import { image } from '../support/media';
import { browserKeys, decryptPush, startPushEndpoint, verifyVapid } from '../support/push-endpoint';
import { startTestStack } from '../support/started-stack';

// The push endpoint is this test's own plain-HTTP server: the local stack allows its origin through the knob.
// A task hung at the provider fails the job after RUN_TIMEOUT_SECONDS.
const stack = await startTestStack({ PROVIDER_LATENCY_MS: '50', RUN_TIMEOUT_SECONDS: '4', PUSH_EXTRA_ORIGINS: 'http://127.0.0.1' });
const endpoint = await startPushEndpoint();
afterAll(async () => {
  await endpoint.stop();
  await stack.stop();
});

const png = await image();
let seq = 0;
const newUser = () => stack.api.user(`push-${++seq}-${Date.now()}`, 20);
const subscription = (path: string, keys = browserKeys().keys, extra: Record<string, unknown> = {}) => ({
  endpoint: `${endpoint.origin}${path}`,
  expirationTime: null,
  keys,
  ...extra,
});
const put = (token: string, body: unknown) => stack.api.call('PUT', '/api/push/subscription', { token, body });
const runJob = async (token: string) => {
  const jobId = await stack.api.submit(token, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: png }]);
  return stack.api.waitForJob(token, jobId);
};
/** The user's stored subscriptions, read from the table itself. */
const stored = async (userId: string) => {
  const { Items = [] } = await stack.doc.send(
    new QueryCommand({
      TableName: stack.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :push)',
      ExpressionAttributeValues: { ':pk': `USER#${userId}`, ':push': 'PUSH#' },
      ConsistentRead: true,
    }),
  );
  return Items.map((item) => item.endpoint as string).sort();
};

describe('Web Push when a job ends', () => {
  it('sends the subscribed browser a VAPID-signed, aes128gcm-encrypted notification that its result is ready', async () => {
    const user = await newUser();
    const key = await stack.api.call<{ publicKey: string }>('GET', '/api/push/key', { token: user.token });
    expect(key.status).toBe(200);
    expect(Buffer.from(key.body.publicKey, 'base64url')).toHaveLength(65);
    const ua = browserKeys();
    expect((await put(user.token, subscription('/ready', ua.keys, { lang: 'pt-BR' }))).status).toBe(200);

    const job = await runJob(user.token);
    expect(job.status).toBe('succeeded');
    const push = await endpoint.next('/ready');

    const vapid = verifyVapid(push.headers.authorization, key.body.publicKey);
    expect(vapid.valid).toBe(true);
    expect(vapid.header.alg).toBe('ES256');
    expect(vapid.claims.aud).toBe(endpoint.origin);
    const now = Date.now() / 1000;
    expect(vapid.claims.exp).toBeGreaterThan(now);
    expect(vapid.claims.exp).toBeLessThanOrEqual(now + 24 * 3600);
    expect(vapid.claims.sub).toMatch(/^(mailto|https):/);
    expect(push.headers['content-encoding']).toBe('aes128gcm');
    expect(Number(push.headers.ttl)).toBeGreaterThan(0);

    expect(JSON.parse(decryptPush(push.body, ua))).toEqual({
      jobId: job.jobId,
      status: 'succeeded',
      title: 'Seu resultado está pronto',
      body: expect.any(String),
    });
    // Someone else's keys cannot read it.
    expect(() => decryptPush(push.body, browserKeys())).toThrow();
  }, 60_000);

  it('speaks the language stored with each device and reaches every device of the user', async () => {
    const user = await newUser();
    const [pt, en] = [browserKeys(), browserKeys()];
    await put(user.token, subscription('/phone-pt', pt.keys, { lang: 'pt-BR' }));
    await put(user.token, subscription('/laptop-en', en.keys, { lang: 'en' }));
    const job = await runJob(user.token);
    const [toPt, toEn] = await Promise.all([endpoint.next('/phone-pt'), endpoint.next('/laptop-en')]);
    expect(JSON.parse(decryptPush(toPt.body, pt))).toMatchObject({ jobId: job.jobId, title: 'Seu resultado está pronto' });
    expect(JSON.parse(decryptPush(toEn.body, en))).toMatchObject({ jobId: job.jobId, title: 'Your result is ready' });
  }, 60_000);

  it('tells an English reader that the job could not be finished and that the credits came back', async () => {
    const user = await newUser();
    const ua = browserKeys();
    await put(user.token, subscription('/failed-en', ua.keys, { lang: 'en' }));
    stack.provider.hangNextTask();
    const job = await runJob(user.token);
    expect(job).toMatchObject({ status: 'failed', refunded: true, error: { code: 'PROVIDER_TIMEOUT' } });
    expect(JSON.parse(decryptPush((await endpoint.next('/failed-en')).body, ua))).toEqual({
      jobId: job.jobId,
      status: 'failed',
      title: 'This one could not be finished',
      body: 'Your credits were returned. Tap to see what happened.',
    });
  }, 60_000);

  it('notifies from the healer too: a job whose execution was aborted is finalized by execution-ended, which sends the push', async () => {
    const user = await newUser();
    const ua = browserKeys();
    await put(user.token, subscription('/healed', ua.keys));
    stack.provider.hangNextTask();
    const jobId = await stack.api.submit(user.token, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: png }]);
    // Stopped once its task exists: a job granted but stopped before create would leave hangNextTask armed for the next test.
    await expect.poll(() => stack.provider.tasks().some((task) => task.webhookUrl?.includes(jobId)), { timeout: 30_000 }).toBe(true);
    stack.stepFunctions.stopExecution(`${stack.stepFunctions.stateMachineArn.replace(':stateMachine:', ':execution:')}:${jobId}`);
    const job = await stack.api.waitForJob(user.token, jobId);
    expect(job).toMatchObject({ status: 'failed', error: { code: 'HEALED' } });
    expect(JSON.parse(decryptPush((await endpoint.next('/healed')).body, ua))).toMatchObject({
      jobId,
      status: 'failed',
      title: 'Não foi possível concluir',
    });
  }, 60_000);

  it('removes a subscription the push service answers 410 for, and keeps one that answered 500', async () => {
    const user = await newUser();
    endpoint.answer('/gone', 410);
    endpoint.answer('/flaky', 500);
    await put(user.token, subscription('/gone'));
    await put(user.token, subscription('/flaky'));
    expect(await stored(user.userId)).toEqual([`${endpoint.origin}/flaky`, `${endpoint.origin}/gone`]);
    expect((await runJob(user.token)).status).toBe('succeeded');
    await Promise.all([endpoint.next('/gone'), endpoint.next('/flaky')]);
    await expect.poll(() => stored(user.userId), { timeout: 10_000 }).toEqual([`${endpoint.origin}/flaky`]);
  }, 60_000);

  it('finishes the job and hands the slot on even when the push service never answers', async () => {
    const user = await newUser();
    endpoint.answer('/hang', 'hang');
    await put(user.token, subscription('/hang'));
    const job = await runJob(user.token);
    expect(job.status).toBe('succeeded');
    await endpoint.next('/hang');
    // The next job of the same user is admitted (its lock was released in the finalize commit, before the push).
    expect((await runJob(user.token)).status).toBe('succeeded');
    await assertInvariants(stack);
  }, 60_000);

  it('answers 400 to malformed subscriptions and stores nothing', async () => {
    const user = await newUser();
    const good = browserKeys().keys;
    const offCurve = Buffer.concat([Buffer.from([4]), Buffer.alloc(64, 1)]).toString('base64url');
    const bad: unknown[] = [
      'not json {',
      [],
      { endpoint: `${endpoint.origin}/x` },
      { ...subscription('/x'), keys: { p256dh: good.p256dh } },
      { ...subscription('/x'), keys: { ...good, p256dh: good.p256dh.slice(0, 40) } },
      { ...subscription('/x'), keys: { ...good, p256dh: offCurve } },
      { ...subscription('/x'), keys: { ...good, auth: Buffer.alloc(15).toString('base64url') } },
      { ...subscription('/x'), keys: { ...good, auth: 'not base64!' } },
      { ...subscription('/x'), lang: 'fr' },
      { ...subscription('/x'), endpoint: 'https://attacker.example/push' },
      { ...subscription('/x'), endpoint: 'http://fcm.googleapis.com/fcm/send/abc' },
      { ...subscription('/x'), endpoint: 'http://169.254.169.254/latest' },
      { ...subscription('/x'), endpoint: `${endpoint.origin}/${'a'.repeat(1100)}` },
      { ...subscription('/x'), endpoint: 42 },
    ];
    for (const body of bad) {
      const reply = await put(user.token, body);
      expect(reply.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(reply.body).toMatchObject({ error: 'INVALID_REQUEST', message: expect.any(String) });
    }
    expect(await stored(user.userId)).toEqual([]);
    expect((await stack.api.call('PUT', '/api/push/subscription', { body: subscription('/x') })).status).toBe(401);
  });

  it('keeps at most five devices per user and forgets one on DELETE', async () => {
    const user = await newUser();
    for (let i = 1; i <= 7; i++) {
      expect((await put(user.token, subscription(`/device-${i}`))).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const kept = [3, 4, 5, 6, 7].map((i) => `${endpoint.origin}/device-${i}`);
    expect(await stored(user.userId)).toEqual(kept);
    const removed = await stack.api.call('DELETE', '/api/push/subscription', { token: user.token, body: { endpoint: kept[0] } });
    expect(removed.status).toBe(200);
    expect(await stored(user.userId)).toEqual(kept.slice(1));
    // Another user's DELETE of the same endpoint touches only their own partition.
    const other = await newUser();
    await stack.api.call('DELETE', '/api/push/subscription', { token: other.token, body: { endpoint: kept[1] } });
    expect(await stored(user.userId)).toEqual(kept.slice(1));
  });
});
