/**
 * Live updates benchmark: what a waiting user costs when the browser polls `GET /api/jobs/{id}` once a second
 * (before) and when job events are pushed over the WebSocket channel with a 30 s fallback poll (after), on the real
 * local stack; and how long a grant takes to reach the waiting browser's socket.
 *
 *   npm run bench:live
 *   npx tsx bench/live.ts --waiters=20 --window=30
 *
 * Prints figures only; never asserts timings.
 */
import './quiet-env';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import type { Job } from '../lambdas/domain/jobs';
import type { LiveEvent } from '../lambdas/domain/ports';
import { apiClient } from '../local/api-client';
import { startDynamoDbLocal } from '../local/emulators/dynamodb';
import { startLocalStack } from '../local/local-stack';
import { startCountingProxy, WRITE_OPS } from './counting-proxy';
import { fmt, summary, table } from './figures';
import { intOption, isoMs, sleep, testPng } from './support';

const WAITERS = intOption('waiters', 'BENCH_LIVE_WAITERS', 20);
const WINDOW_S = intOption('window', 'BENCH_LIVE_WINDOW', 30);
const FALLBACK_POLL_S = 30;

const dynamodb = await startDynamoDbLocal();
const proxy = await startCountingProxy(dynamodb.endpoint, { connections: 'LIVE#CONN' });
const stack = await startLocalStack({
  port: 0,
  inMemory: true,
  emulators: { dynamodbEndpoint: proxy.endpoint, tableName: `bench-live-${randomUUID().slice(0, 8)}` },
  env: { MAX_RUNNING: '1', PROVIDER_LATENCY_MS: '300', SWEEP_INTERVAL_MS: '3600000', POWERTOOLS_LOG_LEVEL: 'ERROR' },
});
try {
  const api = apiClient(stack.url);
  const input = [{ slot: 'image', contentType: 'image/png', body: await testPng(3) }];
  const blocker = await api.user(`bench-blocker-${randomUUID()}`, 10);
  stack.provider.hangNextTask();
  const blockerJob = await api.submit(blocker.token, 'upscale-image', input);
  await api.waitForJob(blocker.token, blockerJob, (job) => job.status === 'running', 60_000);
  const waiters: { token: string; jobId: string; runningAt: number }[] = [];
  for (let i = 0; i < WAITERS; i++) {
    const user = await api.user(`bench-live-${i}-${randomUUID()}`, 10);
    const jobId = await api.submit(user.token, 'upscale-image', input);
    await api.waitForJob(user.token, jobId, (job) => job.status === 'queued', 60_000);
    waiters.push({ ...user, jobId, runningAt: Number.NaN });
  }

  /** Requests and DynamoDB reads per waiting user per minute while `wait` runs for the window. */
  async function measure(wait: () => Promise<number>) {
    await proxy.reset();
    const requests = await wait();
    const reads = (await proxy.calls()).filter((call) => !WRITE_OPS.has(call.op)).length;
    const perUserMinute = (n: number) => n / WAITERS / (WINDOW_S / 60);
    return { requests: perUserMinute(requests), reads: perUserMinute(reads) };
  }

  // Before: every browser polls its job once a second.
  const polling = await measure(async () => {
    let requests = 0;
    const until = Date.now() + WINDOW_S * 1000;
    await Promise.all(
      waiters.map(async (w) => {
        while (Date.now() < until) {
          await api.job(w.token, w.jobId);
          requests++;
          await sleep(1000);
        }
      }),
    );
    return requests;
  });

  // After: every browser holds a socket (one read when it connects) and polls only every 30 s.
  const sockets = await Promise.all(
    waiters.map(async (w) => {
      const socket = new WebSocket(`${stack.url.replace(/^http/, 'ws')}/live?token=${encodeURIComponent(w.token)}`);
      await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
      socket.on('message', (data) => {
        const event = JSON.parse(data.toString()) as LiveEvent;
        if (event.type === 'job' && event.job.jobId === w.jobId && event.job.status === 'running') w.runningAt = Date.now();
      });
      return socket;
    }),
  );
  await Promise.all(waiters.map((w) => api.job(w.token, w.jobId)));
  const pushed = await measure(async () => {
    let requests = 0;
    for (let left = WINDOW_S; left > 0; left -= FALLBACK_POLL_S) {
      await sleep(Math.min(left, FALLBACK_POLL_S) * 1000);
      if (left < FALLBACK_POLL_S) break;
      await Promise.all(waiters.map((w) => api.job(w.token, w.jobId)));
      requests += WAITERS;
    }
    return requests;
  });

  // The queue drains: each grant's commit (startedAt) to its owner's socket hearing `running`.
  await proxy.reset();
  await api.call('POST', `/api/jobs/${blockerJob}/cancel`, { token: blocker.token });
  const finals: Job[] = [];
  for (const w of waiters) finals.push(await api.waitForJob(w.token, w.jobId, undefined, 120_000));
  const drain = await proxy.calls();
  const latency = summary(waiters.map((w, i) => w.runningAt - isoMs(finals[i]?.startedAt)));
  const connectionQueries = drain.filter((call) => call.marks.includes('connections') && call.op === 'Query').length;
  for (const socket of sockets) socket.close();

  console.log(`\nLive updates, ${WAITERS} users waiting behind a full provider, ${WINDOW_S} s window`);
  console.log(
    table([
      ['per waiting user per minute', 'API requests', 'DynamoDB reads'],
      ['polling every 1 s (before)', fmt(polling.requests), fmt(polling.reads)],
      [`pushed, ${FALLBACK_POLL_S} s fallback poll (after)`, fmt(pushed.requests), fmt(pushed.reads)],
    ]),
  );
  console.log(
    `grant committed → owner's socket got "running": p50 ${fmt(latency.p50, 0)} ms, p95 ${fmt(latency.p95, 0)} ms, max ${fmt(latency.max, 0)} ms (n=${latency.n})`,
  );
  console.log(`push cost while ${WAITERS} jobs drained: ${connectionQueries} connection queries (one per event, not per waiting user)`);
} finally {
  await stack.stop();
  await proxy.stop();
  await dynamodb.stop();
}
