import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import type { Job } from '../../lambdas/domain/jobs';
import { apiClient } from '../../local/api-client';
import { freePort } from '../../local/emulators/free-port';
import { S3RVER_CREDENTIALS } from '../../local/emulators/s3';
import type { AuditReport } from '../../scripts/audit-report';
import { HEAL_SLACK_MS } from '../support/fault-lab';
import { publishRows } from '../support/fault-matrix';
import type { MatrixRow } from '../support/fault-scenarios';
import { assertInvariants } from '../support/invariants';
import { image } from '../support/media';

/**
 * Restart safety of the embedded stack (`npm start` = `tsx local/main.ts`): a child process runs the whole
 * system on a DATA_DIR; six jobs are in flight (three running with long provider tasks, three queued) when
 * the process is SIGKILLed. Its DynamoDB Local JVM must die with it. A second process on the same DATA_DIR
 * must then heal every job within SWEEP_INTERVAL_MS + HEAL_GRACE_MS of being ready, with credits adding up.
 *
 * Decision — a job whose provider task may still be running at the crash: its driver (the Step Functions
 * execution) is gone for good (the local runtime keeps executions in memory; in AWS the execution may have
 * been aborted or have failed its Finalize), so nothing will ever collect that task. The sweeper asks the
 * provider for the task's outcome: `succeeded` → the outputs are collected and the job succeeds (the work
 * was done and paid for); `failed` → PROVIDER_ERROR, refunded; still running, or unknown to the provider →
 * the task is cancelled (no more billing) and the job ends `failed` HEALED with a refund. Locally the
 * provider dies with the process and forgets its tasks (unknown → HEALED + refund), which is what this test
 * expects; a restarted job is never resumed, because its inputs/outputs handshake (the task token and the
 * per-task webhook secret) died with the old execution.
 */
const FILE = 'restart';
const RESTART_ENV = { SWEEP_INTERVAL_MS: '500', HEAL_GRACE_MS: '1500', PROVIDER_LATENCY_MS: '300', MAX_RUNNING: '3' };
const BOUND_MS = Number(RESTART_ENV.SWEEP_INTERVAL_MS) + Number(RESTART_ENV.HEAL_GRACE_MS);
/** The first sweep after a restart is a cold start (the sweeper's modules load) and heals all six jobs one by one. */
const COLD_SWEEP_MS = 1500;

const dataDir = mkdtempSync(join(tmpdir(), 'ghostless-restart-'));
const port = await freePort();
const url = `http://127.0.0.1:${port}`;
const api = apiClient(url);
const rows: MatrixRow[] = [];
let child: ChildProcess | undefined;

afterAll(async () => {
  publishRows(FILE, rows);
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    await new Promise((resolve) => child?.once('exit', resolve));
  }
  await until('the JVM to go', async () => jvmPids().length === 0, 15_000).catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
});

/** The environment of `npm start`: none of this test process's emulator or stack variables. */
function cleanEnv(extra: Record<string, string>) {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (
      value === undefined ||
      /^(AWS_|S3_|RUNNINGHUB_|VITEST|TABLE_NAME|BUCKET_NAME|STATE_MACHINE_ARN|PUBLIC_API_URL|SFN_|PROVIDER_|SWEEP_|HEAL_|MAX_)/.test(key)
    )
      continue;
    env[key] = value;
  }
  return { ...env, PORT: String(port), DATA_DIR: dataDir, ...extra };
}

/** Starts `tsx local/main.ts` (no npm or tsx wrapper process: SIGKILL must hit the stack's own process). */
async function startChild(extra: Record<string, string>) {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'local/main.ts'], { env: cleanEnv(extra), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  proc.stderr?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  });
  await until(
    'the stack to print "ready"',
    async () => {
      if (proc.exitCode !== null) throw new Error(`the stack exited (${proc.exitCode}):\n${output}`);
      return /ready/.test(output);
    },
    120_000,
    50,
  );
  return proc;
}

/** DynamoDB Local JVMs serving this test's DATA_DIR (found by their command line, nothing else). */
function jvmPids() {
  const dbPath = join(dataDir, 'dynamodb');
  const pids: { pid: number; port: number }[] = [];
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith('java') && argv[argv.indexOf('-dbPath') + 1] === dbPath) {
        pids.push({ pid: Number(pid), port: Number(argv[argv.indexOf('-port') + 1]) });
      }
    } catch {}
  }
  return pids;
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

const png = async (n: number) => [{ slot: 'image', contentType: 'image/png', body: await image('png', 10 + n, 8) }];

describe('restart after SIGKILL', () => {
  it('heals every in-flight job within the bound after a restart, refunds once, and runs new jobs', async () => {
    // Phase 1: long provider tasks, no sweeps — six jobs in flight.
    child = await startChild({ PROVIDER_LATENCY_MS: '60000', SWEEP_INTERVAL_MS: '3600000', MAX_RUNNING: '3' });
    const users = await Promise.all(Array.from({ length: 6 }, (_, i) => api.user(`restart-${i}-${Date.now()}`, 10)));
    const jobIds: string[] = [];
    for (const [i, user] of users.entries()) {
      jobIds.push(await api.submit(user.token, 'upscale-image', await png(i)));
      // In order, so the first three run and the last three queue.
      await api.waitForJob(user.token, jobIds[i] as string, (j) => j.status === (i < 3 ? 'running' : 'queued'), 30_000);
    }
    const before = await Promise.all(users.map((u, i) => api.job(u.token, jobIds[i] as string)));
    expect(before.map((r) => r.body.status)).toEqual(['running', 'running', 'running', 'queued', 'queued', 'queued']);
    expect(before.slice(3).map((r) => r.body.position)).toEqual([1, 2, 3]);
    const jvm = jvmPids();
    expect(jvm).toHaveLength(1);

    // The crash: SIGKILL, no cleanup. The JVM goes too (its wrapper watches the pipe to the dead process).
    const killedAt = Date.now();
    child.kill('SIGKILL');
    await new Promise((resolve) => child?.once('exit', resolve));
    await until('the JVM to die with the stack', async () => jvmPids().length === 0, 15_000);
    const jvmGoneMs = Date.now() - killedAt;

    // Phase 2: same DATA_DIR, sweeper every 500 ms with a 1500 ms grace.
    child = await startChild(RESTART_ENV);
    const readyAt = Date.now();
    const ended = await Promise.all(
      users.map((u, i) => api.waitForJob(u.token, jobIds[i] as string, undefined, BOUND_MS + COLD_SWEEP_MS + HEAL_SLACK_MS + 5_000)),
    );
    const healMs = ended.map((job) => Date.parse(job.completedAt as string) - readyAt);
    for (const job of ended) {
      // Unknown to the restarted provider → HEALED with a refund (a task that had succeeded would keep its outputs).
      expect(job.status === 'succeeded' || (job.status === 'failed' && job.error?.code === 'HEALED' && job.refunded)).toBe(true);
    }
    expect(Math.max(...healMs)).toBeLessThanOrEqual(BOUND_MS + COLD_SWEEP_MS + HEAL_SLACK_MS);

    // Nobody blocked, credits back, queue and slots empty.
    for (const [i, user] of users.entries()) {
      expect((await api.call<{ job: Job | null }>('GET', '/api/jobs/active', { token: user.token })).body.job).toBeNull();
      const refunded = ended[i]?.status === 'failed' ? 1 : 0;
      expect((await api.call<{ balance: number }>('GET', '/api/credits', { token: user.token })).body.balance).toBe(10 - 1 + refunded);
    }
    expect((await api.call('GET', '/api/queue', { token: users[0]?.token })).body).toMatchObject({ running: 0, queued: 0 });

    // The table itself: locks, credit conservation, queue ⇔ queued, slots ⇔ running (the restarted stack's DynamoDB Local).
    const [server] = jvmPids();
    const dynamo = new DynamoDBClient({
      endpoint: `http://127.0.0.1:${server?.port}`,
      region: 'us-east-1',
      credentials: S3RVER_CREDENTIALS,
    });
    try {
      const table = await assertInvariants({ doc: DynamoDBDocumentClient.from(dynamo), config: { tableName: 'ghostless-jobs' } });
      expect(table.slots).toEqual([]);
      expect(table.queue).toEqual([]);
    } finally {
      dynamo.destroy();
    }
    // The audit, in its local mode (finds the DynamoDB Local serving DATA_DIR): nothing left to heal.
    const audit = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/audit.ts', '--local', '--json'], {
      env: cleanEnv({ HEAL_GRACE_MS: RESTART_ENV.HEAL_GRACE_MS }),
      timeout: 60_000,
    });
    const report = JSON.parse(audit.stdout) as AuditReport;
    expect(report.stragglers).toEqual([]);
    expect(report.totals).toMatchObject({ failed: ended.filter((j) => j.status === 'failed').length });

    // A new job runs to success.
    const next = await api.submit(users[0]?.token as string, 'upscale-image', await png(9));
    expect((await api.waitForJob(users[0]?.token as string, next)).status).toBe('succeeded');

    rows.push({
      file: FILE,
      fault: `SIGKILL with 3 running + 3 queued, restart (JVM gone after ${jvmGoneMs} ms)`,
      jobs: ended.length,
      succeeded: ended.filter((j) => j.status === 'succeeded').length,
      failed: ended
        .filter((j) => j.status === 'failed')
        .reduce<Record<string, number>>((acc, j) => {
          acc[j.error?.code ?? '?'] = (acc[j.error?.code ?? '?'] ?? 0) + 1;
          return acc;
        }, {}),
      cancelled: 0,
      healed: ended.filter((j) => j.error?.code === 'HEALED').length,
      healTimesMs: healMs,
      boundMs: BOUND_MS,
      zombies: 0,
      orphanTasks: 0,
      invariantsOk: true,
      violations: [],
      notes: [
        `heal time counted from the restarted stack being ready (first sweep is a cold start: ${Math.min(...healMs)}–${Math.max(...healMs)} ms); from the SIGKILL: max ${Math.max(...ended.map((j) => Date.parse(j.completedAt as string) - killedAt))} ms (includes the restart)`,
      ],
    });
  }, 240_000);

  it('an upload cut off halfway leaves no job and blocks no one', async () => {
    const user = await api.user(`cutoff-${Date.now()}`, 10);
    const body = (await png(20))[0]?.body as Uint8Array;
    const presigned = await api.call<{ jobId: string; uploads: { url: string; fields: Record<string, string> }[] }>(
      'POST',
      '/api/uploads',
      {
        token: user.token,
        body: { tool: 'upscale-image', files: [{ slot: 'image', contentType: 'image/png', size: body.length }] },
      },
    );
    expect(presigned.status).toBe(201);
    const { jobId, uploads } = presigned.body;
    const upload = uploads[0] as { url: string; fields: Record<string, string> };

    // A browser-style multipart body, of which only the first half is sent before the connection drops.
    const boundary = `----ghostless${Date.now()}`;
    const parts: Buffer[] = [];
    for (const [name, value] of Object.entries(upload.fields)) {
      parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
    }
    parts.push(
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n`),
    );
    parts.push(Buffer.from(body), Buffer.from(`\r\n--${boundary}--\r\n`));
    const full = Buffer.concat(parts);
    const target = new URL(upload.url);
    await new Promise<void>((resolve) => {
      const req = request(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          headers: { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': full.length },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve());
        },
      );
      req.on('error', () => resolve());
      req.write(full.subarray(0, Math.floor(full.length / 2)));
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 300);
    });
    await new Promise((r) => setTimeout(r, Number(RESTART_ENV.SWEEP_INTERVAL_MS) * 2));

    expect((await api.job(user.token, jobId)).status).toBe(404);
    expect((await api.call<{ job: Job | null }>('GET', '/api/jobs/active', { token: user.token })).body.job).toBeNull();
    expect((await api.call<{ balance: number }>('GET', '/api/credits', { token: user.token })).body.balance).toBe(10);
    expect(existsSync(join(dataDir, 's3'))).toBe(true);
    // The same user uploads again, completely: a job, and it succeeds.
    const next = await api.submit(user.token, 'upscale-image', await png(21));
    expect((await api.waitForJob(user.token, next)).status).toBe('succeeded');
  }, 240_000);
});
