import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import sharp from 'sharp';
import type { JobRecord } from '../lambdas/domain/jobs';

/** What the benches share besides their reporting (figures.ts): the clock, inputs, options, process statistics. */

/** Wall-clock milliseconds since the epoch with sub-millisecond resolution (same clock as `Date.now()`). */
export const now = () => performance.timeOrigin + performance.now();
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
export const isoMs = (iso: string | null | undefined) => (iso ? Date.parse(iso) : Number.NaN);

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
