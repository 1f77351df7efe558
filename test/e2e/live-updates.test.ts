import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { DynamoStore } from '../../lambdas/adapters/dynamo-store';
import type { LiveEvent, LiveJob } from '../../lambdas/domain/ports';
import { movedPosition } from '../../web/src/queue-position';
import { assertInvariants } from '../support/invariants';
import { image } from '../support/media';
import { startTestStack } from '../support/started-stack';

// Two slots, both held by tasks that never end until cancelled: whoever comes next waits.
const stack = await startTestStack({ MAX_RUNNING: '2', PROVIDER_LATENCY_MS: '300' });
afterAll(() => stack.stop());

const { api } = stack;
const store = new DynamoStore(stack.doc, stack.config.tableName, 30);
const pngFile = [{ slot: 'image', contentType: 'image/png', body: await image('png', 10, 10) }];
const liveUrl = `${stack.url.replace(/^http/, 'ws')}/live`;
let n = 0;
const newUser = () => api.user(`live-${++n}-${Date.now()}`, 10);

/** API requests reaching the api function, by method and path (the local stack invokes it per request). */
const apiRequests: string[] = [];
const invoke = stack.lambda.invoke.bind(stack.lambda);
stack.lambda.invoke = (name, event) => {
  const request = event as { requestContext?: { http?: { method: string } }; rawPath?: string };
  if (request.rawPath && request.requestContext?.http) apiRequests.push(`${request.requestContext.http.method} ${request.rawPath}`);
  return invoke(name, event);
};
const jobReads = () => apiRequests.filter((request) => request.startsWith('GET /api/jobs'));

async function waitUntil(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000) {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`not reached in time: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A browser's side of the channel: its job as last pushed, its position moved by queue events, every event kept. */
async function liveClient(token: string) {
  const socket = new WebSocket(`${liveUrl}?token=${encodeURIComponent(token)}`);
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  const client = { socket, events: [] as LiveEvent[], job: null as LiveJob | null };
  socket.on('message', (data) => {
    const event = JSON.parse(data.toString()) as LiveEvent;
    client.events.push(event);
    if (event.type === 'job') client.job = event.job;
    else if (client.job) client.job = { ...client.job, position: movedPosition(client.job, event) };
  });
  return client;
}

/** How the server answers an upgrade: 101 when the socket opens, else the refusal's status. */
function upgradeStatus(url: string) {
  return new Promise<number>((resolve) => {
    const socket = new WebSocket(url);
    socket.once('open', () => {
      socket.close();
      resolve(101);
    });
    socket.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    socket.once('error', () => resolve(0));
  });
}

/** The table's push-connection items (`LIVE#CONN`). */
async function connectionItems() {
  const { Items } = await stack.doc.send(
    new QueryCommand({
      TableName: stack.config.tableName,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': 'LIVE#CONN' },
      ConsistentRead: true,
    }),
  );
  return Items ?? [];
}

/** The position the API reports for a job: the same store read GET /api/jobs/{id} makes. */
async function apiPosition(jobId: string) {
  const record = await store.getJob(jobId);
  return record?.status === 'queued' ? store.queuePosition(record) : null;
}

describe('live updates over the WebSocket channel', () => {
  it('pushes each waiting user their own job and queue moves that give the exact positions, with no job polling', async () => {
    const blockers = [];
    for (let i = 0; i < 2; i++) {
      const user = await newUser();
      stack.provider.hangNextTask();
      const jobId = await api.submit(user.token, 'upscale-image', pngFile);
      await api.waitForJob(user.token, jobId, (job) => job.status === 'running');
      // Its hanging provider task exists: the next task created is an ordinary one.
      await waitUntil(async () => Boolean((await store.getJob(jobId))?.providerTaskId), 'blocker task created');
      blockers.push({ ...user, jobId });
    }
    apiRequests.length = 0;

    expect(await connectionItems()).toEqual([]);
    const waiting: { userId: string; token: string; jobId: string; client: Awaited<ReturnType<typeof liveClient>> }[] = [];
    for (let i = 0; i < 4; i++) {
      const user = await newUser();
      const client = await liveClient(user.token);
      const jobId = await api.submit(user.token, 'upscale-image', pngFile);
      await waitUntil(() => client.job?.jobId === jobId && client.job.status === 'queued', `job ${i} queued event`);
      waiting.push({ ...user, client, jobId });
    }
    expect((await connectionItems()).map((item) => item.userId).sort()).toEqual(waiting.map((w) => w.userId).sort());
    const [a, b, c, d] = waiting as [(typeof waiting)[0], (typeof waiting)[0], (typeof waiting)[0], (typeof waiting)[0]];
    const pushed = () => waiting.map((w) => (w.client.job?.status === 'queued' ? w.client.job.position : null));
    const exact = async () => JSON.stringify(pushed()) === JSON.stringify(await Promise.all(waiting.map((w) => apiPosition(w.jobId))));
    expect(pushed()).toEqual([1, 2, 3, 4]);
    expect(await exact()).toBe(true);

    // A queued job leaves (cancelled): everyone behind it moves up, computed from the event alone.
    await api.call('POST', `/api/jobs/${b.jobId}/cancel`, { token: b.token });
    await waitUntil(() => JSON.stringify(pushed()) === JSON.stringify([1, null, 2, 3]), 'positions after a cancel');
    expect(b.client.job).toMatchObject({ status: 'cancelled', refunded: true });
    expect(await exact()).toBe(true);

    // A slot frees: the head is granted (its owner hears `running`), the rest move up.
    await api.call('POST', `/api/jobs/${blockers[0]?.jobId}/cancel`, { token: blockers[0]?.token });
    await waitUntil(() => a.client.job?.status === 'running' && c.client.job?.position === 1, 'grant of the head');
    expect(pushed()).toEqual([null, null, 1, 2]);
    expect(await exact()).toBe(true);

    // The last blocker goes: everyone runs and finishes, each hearing its own result.
    await api.call('POST', `/api/jobs/${blockers[1]?.jobId}/cancel`, { token: blockers[1]?.token });
    for (const w of [a, c, d]) {
      await waitUntil(() => w.client.job?.status === 'succeeded', `${w.jobId} succeeded`, 20_000);
      // Outputs without links: a presigned GET carries its signer's rights; the client reads the job once for them.
      expect(w.client.job?.outputs).toEqual([{ contentType: 'image/png', bytes: expect.any(Number) }]);
    }
    expect(jobReads()).toEqual([]);

    // Nobody heard of anyone else's job; everyone heard the queue move.
    for (const w of waiting) {
      const jobEvents = w.client.events.flatMap((event) => (event.type === 'job' ? [event.job.jobId] : []));
      expect(new Set(jobEvents)).toEqual(new Set([w.jobId]));
    }
    expect(d.client.events.filter((event) => event.type === 'queue').length).toBeGreaterThanOrEqual(3);
    // Closed connections are forgotten ($disconnect deletes their items).
    for (const w of waiting) w.client.socket.close();
    await waitUntil(async () => (await connectionItems()).length === 0, 'connection items removed', 20_000);
    await assertInvariants(stack);
  }, 60_000);

  it('refuses a connection with a forged, expired or missing token', async () => {
    const user = await newUser();
    const [header, payload] = user.token.split('.');
    expect(await upgradeStatus(`${liveUrl}?token=${header}.${payload}.forged`)).toBe(401);
    expect(await upgradeStatus(liveUrl)).toBe(401);
    expect(await upgradeStatus(`${liveUrl}?token=${encodeURIComponent(user.token)}`)).toBe(101);
  });
});
