import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { arm, firings } from '../../lambdas/domain/faults';
import { isTerminal } from '../../lambdas/domain/jobs';
import { type AuditReport, audit } from '../../scripts/audit-report';
import { executionArn, type Lab, newUser, readJob, startLab, submit, until, waitJob } from '../support/fault-lab';
import { publishRows } from '../support/fault-matrix';
import { type MatrixRow, runScenario } from '../support/fault-scenarios';
import { checkInvariants } from '../support/invariants';

/**
 * A provider that fails 30% of its tasks (PROVIDER_FAIL_RATE, fixed per stack — hence its own file), and the
 * audit script (`npm run audit`) run against this stack with known stragglers.
 */
const FILE = 'fault-provider';
// RUN_TIMEOUT 30 s, QUEUE_TIMEOUT 60 s: the audit test's hung and stuck jobs must stay as they are while it looks at them.
const lab: Lab = await startLab({ PROVIDER_FAIL_RATE: '0.3', RUN_TIMEOUT_SECONDS: '30', QUEUE_TIMEOUT_SECONDS: '60' });
const rows: MatrixRow[] = [];

afterAll(async () => {
  publishRows(FILE, rows);
  await lab.stop();
});

describe('provider failures', () => {
  it('PROVIDER_FAIL_RATE 0.3 with 8 concurrent users: failures end PROVIDER_ERROR, refunded once', async () => {
    const row = await runScenario(
      lab,
      FILE,
      'provider fails 30% of tasks',
      async (s) => {
        const users = await Promise.all(Array.from({ length: 8 }, () => s.user('pfr')));
        await Promise.all(
          users.map(async (user) => {
            // 16 jobs through 3 slots: a second job may wait behind all the others (QUEUE_TIMEOUT is 60 s here).
            for (let i = 0; i < 2; i++) await waitJob(lab, await s.submit(user), undefined, 60_000);
          }),
        );
      },
      { fifo: true, followUpAttempts: 12, timeoutMs: 60_000 },
    );
    rows.push(row);
    expect(row.violations).toEqual([]);
    expect(row.succeeded + (row.failed.PROVIDER_ERROR ?? 0)).toBe(row.jobs);
  }, 240_000);
});

describe('npm run audit', () => {
  const auditNow = () =>
    audit({
      doc: lab.stack.doc,
      tableName: lab.stack.config.tableName,
      graceMs: lab.graceMs,
      capacity: lab.maxRunning,
      executionStatus: async (jobId) => {
        try {
          return lab.stack.stepFunctions.describeExecution(executionArn(lab, jobId)).status;
        } catch {
          return 'MISSING';
        }
      },
    });
  const kinds = (report: AuditReport) => report.stragglers.map((s) => `${s.kind}:${s.jobId ?? s.userId}`).sort();

  it('lists every straggler the sweeper would heal, then finds none after a sweep; the CLI agrees (--json)', async () => {
    const pause = arm('sweep:start', { action: 'crash', times: Number.POSITIVE_INFINITY });
    const users: string[] = [];
    try {
      // 1. Three hung jobs fill the slots; B parks in the queue.
      const blockerUser = await newUser(lab, 'aud');
      users.push(blockerUser.userId);
      const blockers: string[] = [];
      for (let i = 0; i < lab.maxRunning; i++) {
        lab.stack.provider.hangNextTask();
        const u = i === 0 ? blockerUser : await newUser(lab, 'aud');
        if (i > 0) users.push(u.userId);
        const id = await submit(lab, u);
        blockers.push(id);
        await waitJob(lab, id, (j) => j.status === 'running' && !!j.providerTaskId);
      }
      const bUser = await newUser(lab, 'aud');
      users.push(bUser.userId);
      const b = await submit(lab, bUser);
      await waitJob(lab, b, (j) => !!j.waitToken);
      // 2. Behind it, an admission whose S3 event was lost after the commit: queued, no execution.
      const lostUser = await newUser(lab, 'aud');
      users.push(lostUser.userId);
      const lost = await submit(lab, lostUser, {
        beforeUpload: (id) => {
          arm('admit:after-commit', { action: 'crash', subject: id });
          arm('sfn:start-execution', { action: 'crash', subject: id, times: 2 });
        },
      });
      await until('the lost admission', async () => firings('sfn:start-execution').filter((f) => f.subject === lost).length === 2);

      // 3. A granted job whose wake-up was lost: a hung job is cancelled, its release grants B (the head) and dies before waking it.
      arm('grant:after-commit', { action: 'crash', subject: b });
      const cancelled = await lab.stack.api.call('POST', `/api/jobs/${blockers[0]}/cancel`, { token: blockerUser.token });
      expect(cancelled.status).toBe(200); // the cancel committed; its grantNext died after the grant, which is only logged
      await waitJob(lab, b, (j) => j.status === 'running');

      // 4. Leaks planted by hand: a slot and a user lock held by a finished job.
      const done = (await readJob(lab, blockers[0] as string))?.jobId as string;
      const table = lab.stack.config.tableName;
      await lab.stack.doc.send(new PutCommand({ TableName: table, Item: { pk: 'SLOT', sk: '009', jobId: done } }));
      await lab.stack.doc.send(
        new UpdateCommand({
          TableName: table,
          Key: { pk: `USER#${blockerUser.userId}`, sk: 'PROFILE' },
          UpdateExpression: 'SET activeJobId = :j, livePk = :l, liveSk = :j',
          ExpressionAttributeValues: { ':j': done, ':l': 'LOCK' },
        }),
      );
      await new Promise((r) => setTimeout(r, lab.graceMs + 100));

      const before = await auditNow();
      expect(kinds(before)).toEqual([`queued_without_driver:${lost}`, `lost_wakeup:${b}`, `slot_leak:${done}`, `lock_leak:${done}`].sort());
      expect(before.stragglers.find((s) => s.kind === 'lost_wakeup')?.sweeper).toBe('yes');
      expect(before.tools['upscale-image']?.byStatus.queued).toBe(1);
      expect(before.tools['upscale-image']?.oldestQueuedSeconds).toBeGreaterThanOrEqual(1);

      // The CLI, as `npm run audit -- --json` would run it against this stack (Step Functions through the local endpoint).
      const auditEnv = {
        ...process.env,
        HEAL_GRACE_MS: String(lab.graceMs),
        TABLE_NAME: table,
        AWS_ENDPOINT_URL_SFN: lab.stack.sfnEndpoint,
        STATE_MACHINE_ARN: lab.stack.stepFunctions.stateMachineArn,
      };
      const cli = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/audit.ts', '--json'], {
        env: auditEnv,
        timeout: 30_000,
      }).catch((error: { stdout?: string; code?: number }) => ({ stdout: error.stdout ?? '', code: error.code }));
      const fromCli = JSON.parse(cli.stdout) as AuditReport;
      expect(kinds(fromCli)).toEqual(kinds(before));
      expect(fromCli.executions).toBe('checked');
      const text = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/audit.ts'], {
        env: auditEnv,
        timeout: 30_000,
      }).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }));
      expect(text.stdout).toContain('lost_wakeup');
      expect(text.stdout).toMatch(/upscale-image\s+1\s+3\s/); // one queued; B and two hung jobs running

      // The sweeper runs again: it heals what the audit said it would, and only that.
      pause();
      await lab.stack.sweep();
      await waitJob(lab, lost);
      const after = await auditNow();
      expect(kinds(after)).toEqual([]);
      expect((await readJob(lab, lost))?.error?.code).toBe('HEALED');
      // B's execution was woken again: it went on to the provider.
      await until('B on the provider', async () => Boolean((await readJob(lab, b))?.runToken));
    } finally {
      pause();
    }
    // Clean up the way an operator would: abort the stuck job's execution (and the hung ones'); the execution-failure handler heals them.
    const running = (await checkInvariants(lab, { userIds: [], jobIds: [] })).violations; // (slots/locks of the hung jobs, expected)
    expect(running.length).toBeGreaterThan(0);
    for (const jobId of lab.stack.stepFunctions.listExecutions({ statusFilter: 'RUNNING' }).executions.map((e) => e.name)) {
      const job = await readJob(lab, jobId);
      if (job && !isTerminal(job.status)) lab.stack.stepFunctions.stopExecution(executionArn(lab, jobId));
    }
    await until('every job terminal', async () => {
      const r = await auditNow();
      return (r.totals.queued ?? 0) + (r.totals.running ?? 0) === 0;
    });
    expect((await auditNow()).stragglers).toEqual([]);
    const { violations } = await checkInvariants(lab, { userIds: users, jobIds: [] });
    expect(violations).toEqual([]);
    for (const task of lab.stack.provider.tasks().filter((t) => t.status === 'RUNNING')) {
      const jobId = /callback\/([^?]+)/.exec(task.webhookUrl ?? '')?.[1] ?? '';
      if (isTerminal((await readJob(lab, jobId))?.status ?? 'failed')) {
        await fetch(`${lab.stack.provider.url}/task/openapi/cancel`, {
          method: 'POST',
          body: JSON.stringify({ apiKey: lab.stack.provider.apiKey, taskId: task.taskId }),
        });
      }
    }
  }, 90_000);
});
