import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import sharp from 'sharp';
import type { JobRecord } from '../lambdas/domain/jobs';

/** Wall-clock milliseconds since the epoch with sub-millisecond resolution (same clock as `Date.now()`). */
export const now = () => performance.timeOrigin + performance.now();
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
export const isoMs = (iso: string | null | undefined) => (iso ? Date.parse(iso) : Number.NaN);

// ---------------------------------------------------------------------------------------------------------------
// A counting HTTP proxy in front of DynamoDB Local (on a worker thread: see dynamo-proxy-worker.mjs).

/** One DynamoDB API call as seen on the wire. */
export interface DynamoCall {
  /** X-Amz-Target operation, e.g. TransactWriteItems. */
  op: string;
  /** Request fully received by the proxy (the SDK has sent it). */
  t0: number;
  /** DynamoDB Local's answer fully received (the write is committed when ok). */
  t1: number;
  ok: boolean;
  /** `__type` of an error answer, short form (e.g. ConditionalCheckFailedException). */
  error?: string;
  /** Job ids (UUIDs) found in the request body: keys, attribute values, execution ARNs. */
  ids: string[];
  /** TransactWriteItems: number of items; other writes: 1; reads: 0. */
  items: number;
  /** Names of the markers whose substring the request body contains. */
  marks: string[];
}

export const WRITE_OPS = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'TransactWriteItems', 'BatchWriteItem']);

export interface CountingProxy {
  endpoint: string;
  /** Every call recorded since the last reset (fetched incrementally from the proxy thread). */
  calls(): Promise<DynamoCall[]>;
  /** The most calls in flight at once since the last reset. */
  maxInFlight(): number;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Forwards every request to `target` unchanged and records it (operation, timing, job ids, items, markers).
 * Counting on the wire keeps the handlers untouched: it sees exactly what the deployed code sends to DynamoDB.
 * The proxy runs on its own thread, so its timestamps are DynamoDB Local's answer times, not the main loop's.
 */
export async function startCountingProxy(target: string, markers: Record<string, string> = {}): Promise<CountingProxy> {
  const worker = new Worker(new URL('./dynamo-proxy-worker.mjs', import.meta.url), { workerData: { target, markers } });
  worker.unref();
  let seq = 0;
  const waiting = new Map<number, (message: Record<string, unknown>) => void>();
  const listening = new Promise<number>((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (message: Record<string, unknown>) => {
      if (message.type === 'listening') resolve(message.port as number);
      const done = waiting.get(message.id as number);
      if (done) {
        waiting.delete(message.id as number);
        done(message);
      }
    });
  });
  const ask = (message: Record<string, unknown>) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const id = ++seq;
      waiting.set(id, resolve);
      worker.postMessage({ ...message, id });
    });
  const port = await listening;
  let known: DynamoCall[] = [];
  let max = 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async calls() {
      const reply = await ask({ type: 'since', from: known.length });
      known = known.concat(reply.calls as DynamoCall[]);
      max = (reply.inFlight as { max: number }).max;
      return known;
    },
    maxInFlight: () => max,
    async reset() {
      await ask({ type: 'reset' });
      known = [];
      max = 0;
    },
    async stop() {
      await ask({ type: 'stop' });
      await worker.terminate();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Figures.

export function percentile(values: number[], p: number) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] as number;
}

export function summary(values: number[]) {
  const finite = values.filter((v) => Number.isFinite(v));
  return {
    n: finite.length,
    mean: finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : Number.NaN,
    min: finite.length ? Math.min(...finite) : Number.NaN,
    p50: percentile(finite, 50),
    p95: percentile(finite, 95),
    p99: percentile(finite, 99),
    max: finite.length ? Math.max(...finite) : Number.NaN,
  };
}

export const fmt = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '—');

/** A plain-text table; the first row is the header. */
export function table(rows: (string | number)[][]) {
  const text = rows.map((row) => row.map(String));
  const widths = text[0]?.map((_, i) => Math.max(...text.map((row) => (row[i] ?? '').length))) ?? [];
  const line = (row: string[]) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  const [header, ...body] = text;
  return [line(header ?? []), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// Inputs and clients.

/** A small real PNG, different per seed (so no two uploads are byte-identical). */
export async function testPng(seed = 0, size = 16): Promise<Uint8Array<ArrayBuffer>> {
  const buffer = await sharp({
    create: { width: size, height: size, channels: 3, background: { r: seed % 256, g: (seed >> 8) % 256, b: 128 } },
  })
    .png()
    .toBuffer();
  return new Uint8Array(buffer);
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        results[index] = await fn(items[index] as T, index);
      }
    }),
  );
  return results;
}

/** Pids of DynamoDB Local JVMs still running (should be none after a bench). */
export function dynamoDbLocalPids(): string[] {
  try {
    return execFileSync('pgrep', ['-f', 'DynamoDBLocal'], { encoding: 'utf8' })
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean);
  } catch {
    return [];
  }
}

/** Direct children of `pid` whose command line mentions DynamoDBLocal (the JVM under the wrapper shell). */
export function dynamoDbLocalChildren(pid: number): string[] {
  try {
    return execFileSync('pgrep', ['-P', String(pid), '-f', 'DynamoDBLocal'], { encoding: 'utf8' })
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean);
  } catch {
    return [];
  }
}

/** Reads a positive integer from `--name=value` on argv or from an environment variable. */
export function intOption(flag: string, env: string, fallback: number): number {
  const arg = process.argv.find((a) => a.startsWith(`--${flag}=`));
  const raw = arg ? arg.slice(flag.length + 3) : process.env[env];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${flag} / ${env} must be a whole number, got ${raw}`);
  return value;
}

// ---------------------------------------------------------------------------------------------------------------
// CPU profile of a phase (main thread), summarized by where the code lives.

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}

/** Starts the V8 sampling profiler on this thread; `stop()` returns self time (ms) per code area, largest first. */
export async function startCpuProfile() {
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  return {
    async stop() {
      const { profile } = (await session.post('Profiler.stop')) as unknown as {
        profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
      };
      session.disconnect();
      const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
      const areas = new Map<string, number>();
      profile.samples.forEach((id, i) => {
        const node = nodes.get(id);
        const area = node ? codeArea(node.callFrame.url, node.callFrame.functionName) : 'other';
        areas.set(area, (areas.get(area) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
      });
      return [...areas].sort((a, b) => b[1] - a[1]);
    },
  };
}

function codeArea(url: string, fn: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
  if (pkg) {
    if (pkg.startsWith('@smithy/') || pkg.startsWith('@aws-sdk/')) return 'AWS SDK (serialize, sign, parse, retry)';
    if (pkg === 's3rver' || pkg.startsWith('koa') || pkg.startsWith('@koa/') || pkg === 'fast-xml-parser') return 's3rver (Koa)';
    if (pkg === 'busboy' || pkg === 'streamsearch') return 'S3 gateway (busboy)';
    if (pkg === 'jose') return 'JWT (jose)';
    if (pkg === 'aws-local-stepfunctions' || pkg === 'jsonpath-plus' || pkg === 'lodash') return 'Step Functions interpreter';
    if (pkg.startsWith('@middy/') || pkg.startsWith('@aws-lambda-powertools/')) return 'handlers (middy, powertools)';
    if (pkg === 'file-type' || pkg === 'strtok3' || pkg === 'token-types') return 'input sniffing (file-type)';
    return `other package: ${pkg}`;
  }
  if (url.includes('/local/s3-gateway') || url.includes('/local/s3-post-policy') || url.includes('/local/sigv4'))
    return 'S3 gateway (policy, SigV4)';
  if (url.includes('/local/stepfunctions/')) return 'Step Functions interpreter';
  if (url.includes('/local/')) return 'local adapter (HTTP adapter, auth, stack)';
  if (url.includes('/lambdas/')) return 'handlers and domain code';
  if (url.includes('/bench/')) return 'bench client';
  if (url.includes('undici') || url.startsWith('node:internal/deps/undici')) return 'fetch (undici)';
  if (/^node:(_http|http|net|internal\/http|internal\/stream|internal\/streams|stream|internal\/webstreams)/.test(url))
    return 'Node HTTP and streams';
  if (url.startsWith('node:internal/crypto') || url.startsWith('node:crypto')) return 'crypto (hashing, HMAC)';
  if (url.startsWith('node:internal/fs') || url.startsWith('node:fs')) return 'filesystem';
  if (url.startsWith('node:')) return 'Node internals (events, timers, buffers)';
  if (fn === '(idle)') return 'idle';
  if (fn === '(garbage collector)') return 'garbage collector';
  if (fn === '(program)') return 'V8 / native (program)';
  if (!url) return `native: ${fn || 'anonymous'}`;
  return 'other';
}

// ---------------------------------------------------------------------------------------------------------------
// CPU contention of this process's main thread (Linux schedstat): time on a CPU vs time runnable but waiting.

export interface SchedSample {
  at: number;
  onCpuNs: number;
  waitingNs: number;
}

export function schedSample(): SchedSample | undefined {
  try {
    const [onCpu, waiting] = readFileSync('/proc/thread-self/schedstat', 'utf8').trim().split(/\s+/).map(Number);
    return { at: now(), onCpuNs: onCpu ?? 0, waitingNs: waiting ?? 0 };
  } catch {
    return undefined;
  }
}

/** Shares of the wall time between two samples the main thread spent on a CPU and waiting for one (run queue). */
export function schedShares(from: SchedSample | undefined, to: SchedSample | undefined) {
  if (!from || !to) return { onCpu: Number.NaN, waiting: Number.NaN };
  const wallNs = (to.at - from.at) * 1e6;
  return { onCpu: (to.onCpuNs - from.onCpuNs) / wallNs, waiting: (to.waitingNs - from.waitingNs) / wallNs };
}

/** A job record as admission writes it for a queued upscale, for filling a queue through the store itself. */
export function waitingJob(userId: string, createdAt: string, overrides: Partial<JobRecord> = {}): JobRecord {
  return {
    jobId: randomUUID(),
    userId,
    tool: 'upscale-image',
    status: 'queued',
    params: { scale: 2 },
    inputs: [],
    creditCost: 1,
    charged: true,
    refunded: false,
    error: null,
    outputs: [],
    createdAt,
    startedAt: null,
    completedAt: null,
    limits: { queueSeconds: 3600, runSeconds: 900 },
    ...overrides,
  };
}
