import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { arm, firings } from '../../lambdas/domain/faults';
import type { JobRecord } from '../../lambdas/domain/jobs';
import {
  deliverS3Event,
  executionArn,
  type Lab,
  presign,
  readJob,
  sleep,
  startLab,
  until,
  uploadSlot,
  waitAllTerminal,
  waitJob,
} from '../support/fault-lab';
import { publishRows } from '../support/fault-matrix';
import { type MatrixRow, runScenario, type Scenario } from '../support/fault-scenarios';

/**
 * The fault matrix on one local stack (handlers read their config at import: one stack per file).
 * 3 slots, provider tasks of ~300 ms, RUN_TIMEOUT 8 s, QUEUE_TIMEOUT 16 s, sweeper every 500 ms with a
 * 1500 ms grace, Step Functions retry waits scaled by 0.01. Scenarios run one after the other; each one
 * checks invariants 1–8 with zero tolerance and that its users can run another job afterwards.
 */
const FILE = 'fault-matrix';
const lab: Lab = await startLab({});
const rows: MatrixRow[] = [];

afterAll(async () => {
  publishRows(FILE, rows);
  await lab.stop();
});

async function scenario(fault: string, body: (s: Scenario) => Promise<void>, options: Parameters<typeof runScenario>[4] = {}) {
  const row = await runScenario(lab, FILE, fault, body, options);
  rows.push(row);
  expect(row.violations).toEqual([]);
}

/** A running job whose provider task never ends: it holds a slot until RUN_TIMEOUT (or a cancel/abort). */
async function blocker(s: Scenario, prefix = 'blk') {
  const user = await s.user(prefix);
  lab.stack.provider.hangNextTask();
  const jobId = await s.submit(user);
  const job = await waitJob(lab, jobId, (j) => j.status === 'running' && !!j.providerTaskId);
  return { user, jobId, job };
}

/** The job once its execution is parked in WaitForSlot (queued with a task token). */
const parked = (jobId: string) => waitJob(lab, jobId, (j) => j.status !== 'queued' || !!j.waitToken);

const fired = (point: Parameters<typeof firings>[0], subject?: string) => firings(point).filter((f) => !subject || f.subject === subject);

function mustHaveFired(point: Parameters<typeof firings>[0], subject: string, times = 1) {
  const n = fired(point, subject).length;
  if (n !== times) throw new Error(`${point} fired ${n} time(s) for ${subject}, expected ${times}`);
  return fired(point, subject)[0]?.at as number;
}

const cancel = (token: string, jobId: string) => lab.stack.api.call<{ status: string }>('POST', `/api/jobs/${jobId}/cancel`, { token });

describe('crashes between two writes', () => {
  it('admit:after-commit ×1 — the retried S3 event starts the job', async () => {
    await scenario('crash after admit, Lambda retry wins', async (s) => {
      // Sweeper paused and nobody else active: nothing can grant the job before the S3 event's retry (200 ms) starts it.
      const pause = arm('sweep:start', { action: 'crash', times: Number.POSITIVE_INFINITY });
      try {
        const user = await s.user('adm1');
        const jobId = await s.submit(user, { beforeUpload: (id) => arm('admit:after-commit', { action: 'crash', subject: id }) });
        s.expect[jobId] = 'succeeded';
        await waitJob(lab, jobId);
        mustHaveFired('admit:after-commit', jobId);
      } finally {
        pause();
      }
    });
  }, 90_000);

  it('admit:after-commit ×1 — the job is granted before the retry comes', async () => {
    // The retry only starts an execution for a job still `queued`; a grant in the window (the sweeper here,
    // any other job's park or release in production) makes it `running` first, and nothing ever drives it.
    await scenario('crash after admit, granted before the retry', async (s) => {
      const user = await s.user('adm1g');
      const jobId = await s.submit(user, { beforeUpload: (id) => arm('admit:after-commit', { action: 'crash', subject: id }) });
      await until('the crash', async () => fired('admit:after-commit', jobId).length > 0, 10_000, 5);
      await lab.stack.sweep(); // grantNext: the job is the queue's head and a slot is free
      await lab.stack.sweep();
      s.victims.push({ jobId, t0: mustHaveFired('admit:after-commit', jobId), why: 'admission crashed, retry came after the grant' });
      s.expect[jobId] = 'succeeded';
      await waitJob(lab, jobId);
    });
  }, 90_000);

  /** Admission dies after its commit and both Lambda retries die at StartExecution: the job is queued with no execution. */
  function loseAdmission(jobId: string) {
    arm('admit:after-commit', { action: 'crash', subject: jobId });
    arm('sfn:start-execution', { action: 'crash', subject: jobId, times: 2 });
  }

  it('admit:after-commit, then StartExecution fails on both retries — the S3 event is lost: the sweeper heals the job', async () => {
    // Slots full (three hung jobs), so nothing grants the driverless job: it is healed while queued.
    await scenario('crash after admit, retries fail (event lost)', async (s) => {
      for (let i = 0; i < 3; i++) await blocker(s);
      for (const jobId of s.jobIds) s.expect[jobId] = 'failed:PROVIDER_TIMEOUT';
      const lost = await s.submit(await s.user('adm3'), { beforeUpload: loseAdmission });
      await waitJob(lab, lost);
      s.victims.push({ jobId: lost, t0: mustHaveFired('admit:after-commit', lost), why: 'S3 event lost after admit' });
      s.expect[lost] = 'failed:HEALED';
      mustHaveFired('sfn:start-execution', lost, 2);
    });
  }, 90_000);

  it('the S3 event is lost, then the driverless job is granted a slot just before its grace ends', async () => {
    // The sweeper measures a running job's grace from startedAt: the grant restarts the clock, and the
    // driverless job holds a slot for up to another grace + interval (heal ≈ 2 × grace + interval).
    await scenario('event lost, then granted (grace restarts)', async (s) => {
      const blockers = [await blocker(s), await blocker(s), await blocker(s)];
      for (const b of blockers) s.expect[b.jobId] = 'failed:PROVIDER_TIMEOUT';
      const lost = await s.submit(await s.user('adm3g'), { beforeUpload: loseAdmission });
      const t0 = await until('the crash', async () => fired('admit:after-commit', lost)[0]?.at, 10_000, 5);
      await sleep(Math.max(0, t0 + lab.graceMs - 300 - Date.now()));
      const first = blockers[0] as (typeof blockers)[number];
      await cancel(first.user.token, first.jobId); // frees a slot: grantNext hands it to the driverless job
      s.expect[first.jobId] = 'cancelled';
      s.victims.push({ jobId: lost, t0, why: 'S3 event lost, granted 1.2 s later' });
      s.expect[lost] = 'failed:HEALED';
      await waitJob(lab, lost);
    });
  }, 90_000);

  it('grant:after-commit — the slot is claimed but the parked execution is never woken', async () => {
    // Three hung jobs fill the slots; X parks in WaitForSlot. The first hung job's RUN_TIMEOUT releases its slot,
    // grantNext claims it for X and crashes before SendTaskSuccess. X is `running`, holds a slot, has a live
    // execution (parked) — so the sweeper sees nothing wrong until X's deadline (run timeout + 120 s).
    await scenario(
      'crash after grant (wake-up lost)',
      async (s) => {
        for (let i = 0; i < 3; i++) await blocker(s);
        for (const jobId of s.jobIds) s.expect[jobId] = 'failed:PROVIDER_TIMEOUT';
        const user = await s.user('grant');
        const x = await s.submit(user);
        await parked(x);
        arm('grant:after-commit', { action: 'crash', subject: x });
        await until('the grant crash', async () => fired('grant:after-commit', x).length > 0, 10_000);
        s.victims.push({ jobId: x, t0: mustHaveFired('grant:after-commit', x), why: 'grant committed, wake-up lost' });
        s.expect[x] = 'succeeded';
      },
      { timeoutMs: 30_000 },
    );
  }, 90_000);

  it('finalize:after-commit on every job — grantNext is lost each time, Finalize is retried', async () => {
    await scenario(
      'crash after finalize (every job, once)',
      async (s) => {
        const seen = new Set<string>();
        // Every job's first finalize commits and then "dies" before grantNext; Step Functions retries Finalize.
        arm('finalize:after-commit', {
          action: 'crash',
          times: Number.POSITIVE_INFINITY,
          subject: (id) => !!id && !seen.has(id) && !!seen.add(id),
        });
        lab.stack.provider.rejectNextCreate(301); // one job fails PROVIDER_ERROR: its refund must not be paid twice
        const users = await Promise.all(Array.from({ length: 6 }, () => s.user('fin')));
        await Promise.all(
          users.map(async (user) => {
            for (let i = 0; i < 2; i++) await waitJob(lab, await s.submit(user));
          }),
        );
        // Each crash left a free slot; if a job was waiting then, it must start within the bound (sweeper's grantNext).
        const jobs = (await Promise.all(s.jobIds.map((id) => readJob(lab, id)))) as JobRecord[];
        for (const crash of firings('finalize:after-commit')) {
          const waiting = jobs.filter(
            (j) => Date.parse(j.createdAt) <= crash.at && (!j.startedAt || Date.parse(j.startedAt) > crash.at) && j.status !== 'cancelled',
          );
          if (!waiting.length) continue;
          const next = jobs
            .filter((j) => j.startedAt && Date.parse(j.startedAt) > crash.at)
            .sort((a, b) => Date.parse(a.startedAt as string) - Date.parse(b.startedAt as string))[0];
          if (next && !s.victims.some((v) => v.jobId === next.jobId)) {
            s.victims.push({ jobId: next.jobId, t0: crash.at, until: 'started', why: 'grantNext lost after finalize' });
          }
        }
        if (firings('finalize:after-commit').length !== s.jobIds.length) throw new Error('not every finalize crashed once');
      },
      { fifo: true },
    );
  }, 90_000);

  it('cancel:after-finalize — cancelled in the table, provider task and execution never stopped', async () => {
    await scenario('crash after cancel finalize', async (s) => {
      const a = await blocker(s, 'cnl');
      await blocker(s);
      await blocker(s);
      const queuedUser = await s.user('cnlq');
      const q = await s.submit(queuedUser);
      await parked(q);
      arm('cancel:after-finalize', { action: 'crash', times: 2, subject: (id) => id === q || id === a.jobId });
      const first = await cancel(queuedUser.token, q);
      const second = await cancel(a.user.token, a.jobId);
      s.notes.push(`cancel answered ${first.status} (queued) and ${second.status} (running) after the crash`);
      s.expect[q] = 'cancelled';
      s.expect[a.jobId] = 'cancelled';
      const again = await cancel(a.user.token, a.jobId);
      if (again.status !== 409) throw new Error(`a second cancel answered ${again.status}, expected 409 JOB_FINISHED`);
      for (const jobId of s.jobIds) if (jobId !== q && jobId !== a.jobId) s.expect[jobId] = 'failed:PROVIDER_TIMEOUT';
    });
  }, 90_000);

  it('run:after-create — the provider task exists, its id is never recorded', async () => {
    await scenario('crash after createTask', async (s) => {
      const users = await Promise.all([s.user('run'), s.user('run'), s.user('run')]);
      let x = '';
      await Promise.all(
        users.map((user, i) =>
          s.submit(user, {
            beforeUpload: (id) => {
              if (i > 0) return;
              x = id;
              arm('run:after-create', { action: 'crash', subject: id });
            },
          }),
        ),
      );
      // The crash fails RunOnProvider at once: its Catch finalizes the job (INTERNAL, refunded) within the heal
      // bound. The task it created, whose id was lost, calls back with the job's secret, finds the job ended
      // and is cancelled (RunningHub gives no other way to learn a task id than its create answer or webhook).
      await waitJob(lab, x);
      s.victims.push({ jobId: x, t0: mustHaveFired('run:after-create', x), why: 'crash after createTask' });
      s.expect[x] = 'failed:INTERNAL';
    });
  }, 90_000);
});

describe('Step Functions faults', () => {
  it('SendTaskSuccess fails once on the provider webhook: the provider retries the webhook', async () => {
    await scenario('SendTaskSuccess fails (webhook)', async (s) => {
      const user = await s.user('sts');
      const x = await s.submit(user);
      const granted = await waitJob(lab, x, (j) => j.status !== 'queued');
      // From here the only SendTaskSuccess left for X is the webhook's (its wake-up token is excluded).
      arm('sfn:send-task-success', { action: 'crash', subject: (token) => token !== granted.waitToken });
      s.expect[x] = 'succeeded';
      await waitJob(lab, x);
      if (fired('sfn:send-task-success').length !== 1) throw new Error('SendTaskSuccess did not fail');
      const task = lab.stack.provider.tasks().find((t) => t.webhookUrl?.includes(x));
      s.notes.push(`webhook delivered after ${task?.webhook.attempts} attempt(s)`);
    });
  }, 90_000);

  it('executions aborted while queued and mid-run: the execution-failure handler heals them at once', async () => {
    await scenario('execution aborted (queued, mid-run)', async (s) => {
      const hung = [await blocker(s), await blocker(s), await blocker(s)];
      const user = await s.user('abq');
      const q = await s.submit(user);
      await parked(q);
      let t0 = Date.now();
      lab.stack.stepFunctions.stopExecution(executionArn(lab, q));
      s.victims.push({ jobId: q, t0, why: 'aborted while queued' });
      const mid = hung[0]?.jobId as string;
      t0 = Date.now();
      lab.stack.stepFunctions.stopExecution(executionArn(lab, mid));
      s.victims.push({ jobId: mid, t0, why: 'aborted mid-run' });
      s.expect[q] = 'failed:HEALED';
      s.expect[mid] = 'failed:HEALED';
      await waitAllTerminal(lab, [q, mid], 10_000);
      const task = lab.stack.provider.tasks().find((t) => t.taskId === hung[0]?.job.providerTaskId);
      if (task?.status !== 'CANCELLED') throw new Error(`the aborted job's provider task is ${task?.status}, expected CANCELLED`);
    });
  }, 90_000);

  it('execution aborted and its EventBridge event lost: the sweeper heals the job', async () => {
    await scenario('execution aborted, event lost', async (s) => {
      const b = await blocker(s, 'abl');
      arm('execution-ended:before-heal', { action: 'crash', subject: b.jobId, times: 3 });
      // The sweeper waits until the event is lost for good (all three of Lambda's attempts crashed): under load a sweep
      // could otherwise heal the job between two attempts, and the last attempt would find nothing left to heal.
      const pause = arm('sweep:start', { action: 'crash', times: Number.POSITIVE_INFINITY });
      try {
        lab.stack.stepFunctions.stopExecution(executionArn(lab, b.jobId));
        await until('three crashed attempts', async () => fired('execution-ended:before-heal', b.jobId).length >= 3, 30_000, 10);
      } finally {
        pause();
      }
      s.victims.push({ jobId: b.jobId, t0: Date.now(), why: 'aborted, execution-ended lost' });
      s.expect[b.jobId] = 'failed:HEALED';
      await waitJob(lab, b.jobId);
      mustHaveFired('execution-ended:before-heal', b.jobId, 3);
    });
  }, 90_000);
});

describe('provider faults', () => {
  it('a hanging provider: RUN_TIMEOUT fails the job, cancels its task, the queue moves on', async () => {
    await scenario('provider hangs (RUN_TIMEOUT 8 s)', async (s) => {
      const hung = [await blocker(s), await blocker(s), await blocker(s)];
      const behind = await Promise.all([s.user('hang'), s.user('hang')]);
      for (const user of behind) s.expect[await s.submit(user)] = 'succeeded';
      for (const h of hung) s.expect[h.jobId] = 'failed:PROVIDER_TIMEOUT';
      await waitAllTerminal(lab, s.jobIds, 30_000);
      for (const h of hung) {
        const task = lab.stack.provider.tasks().find((t) => t.taskId === h.job.providerTaskId);
        if (task?.status !== 'CANCELLED') throw new Error(`hung task of ${h.jobId} is ${task?.status}, expected CANCELLED`);
      }
    });
  }, 90_000);

  it('the provider refuses the task (301) or is busy (421)', async () => {
    await scenario('provider rejects create (301, 421)', async (s) => {
      const [a, b] = [await s.user('rej'), await s.user('rej')];
      lab.stack.provider.rejectNextCreate(301);
      const refused = await s.submit(a);
      s.expect[refused] = 'failed:PROVIDER_ERROR';
      await waitJob(lab, refused);
      lab.stack.provider.rejectNextCreate(421);
      const busy = await s.submit(b);
      s.expect[busy] = 'succeeded';
      await waitJob(lab, busy);
    });
  }, 90_000);

  it('the provider answers before the run token is recorded (slow write after createTask)', async () => {
    // startRun pauses 2 s between createTask and recording the token (a throttled UpdateItem would do the same):
    // the task ends after ~300 ms and its webhook is refused (no secret recorded yet) on every attempt. startRun
    // then looks at the task once after recording the token, so the finished task still resumes the job.
    await scenario('webhook before the token (delay 2 s)', async (s) => {
      const user = await s.user('early');
      const x = await s.submit(user, { beforeUpload: (id) => arm('run:after-create', { action: 'delay', delayMs: 2000, subject: id }) });
      s.expect[x] = 'succeeded';
      const job = await waitJob(lab, x);
      const task = lab.stack.provider.tasks().find((t) => t.taskId === job.providerTaskId);
      s.notes.push(
        `provider task ${task?.status}, webhook ${task?.webhook.delivered ? 'delivered' : 'refused'} after ${task?.webhook.attempts} attempt(s)`,
      );
    });
  }, 90_000);

  it('the provider answers after the job was cancelled: the callback changes nothing', async () => {
    await scenario('provider answers after cancel', async (s) => {
      const user = await s.user('late');
      const x = await s.submit(user);
      const running = await waitJob(lab, x, (j) => j.status === 'running' && !!j.providerTaskId);
      const reply = await cancel(user.token, x);
      if (reply.status !== 200) throw new Error(`cancel answered ${reply.status}`);
      // Cancel stops the provider task before the job is finalized, so the provider has nothing left to report.
      const task = lab.stack.provider.tasks().find((candidate) => candidate.taskId === running.providerTaskId);
      if (task?.status !== 'CANCELLED') throw new Error(`provider task is ${task?.status} after cancel`);
      task.webhook.lastBody = JSON.stringify({ event: 'TASK_END', taskId: task.taskId, eventData: '[]' });
      // A late callback anyway (as a provider that finished at the same moment would send), and one with a forged secret.
      const replay = await fetch(task.webhookUrl as string, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: task.webhook.lastBody,
      });
      const replayBody = (await replay.json()) as { accepted?: boolean };
      const forged = await fetch((task.webhookUrl as string).replace(/secret=[^&]+/, 'secret=forged'), {
        method: 'POST',
        body: task.webhook.lastBody,
      });
      await forged.arrayBuffer();
      if (replay.status !== 200 || replayBody.accepted !== false)
        throw new Error(`replayed callback: ${replay.status} ${JSON.stringify(replayBody)}`);
      if (forged.status !== 404) throw new Error(`forged callback: ${forged.status}`);
      s.expect[x] = 'cancelled';
      const job = await waitJob(lab, x);
      if (job.outputs.length) throw new Error('a cancelled job got outputs');
    });
  }, 90_000);
});

describe('duplicate and reordered S3 events', () => {
  it('two-input uploads with events duplicated, reordered, early and late: one job, one debit', async () => {
    await scenario(
      'duplicate + reordered S3 events',
      async (s) => {
        const users = await Promise.all(Array.from({ length: 4 }, () => s.user('dup')));
        await Promise.all(
          users.map(async (user) => {
            const p = await presign(lab, user, 'pose-changer');
            const key = (slot: string) => p.uploads.find((u) => u.slot === slot)?.fields.key as string;
            // An event for the second input before its object exists (ignored), then the first input, its event duplicated.
            await deliverS3Event(lab, key('person'));
            await uploadSlot(p, 'pose');
            await Promise.all([deliverS3Event(lab, key('pose')), deliverS3Event(lab, key('pose')), deliverS3Event(lab, key('pose'))]);
            s.jobIds.push(p.jobId);
            s.expect[p.jobId] = 'succeeded';
            // The second input: its event five more times and the first input's twice, all at once (S3 is at-least-once, unordered).
            await uploadSlot(p, 'person');
            await Promise.all([
              ...Array.from({ length: 5 }, () => deliverS3Event(lab, key('person'))),
              deliverS3Event(lab, key('pose')),
              deliverS3Event(lab, key('pose')),
            ]);
            await waitJob(lab, p.jobId);
            // Late duplicates after the end.
            await Promise.all([deliverS3Event(lab, key('person')), deliverS3Event(lab, key('pose')), deliverS3Event(lab, key('person'))]);
            const listed = await lab.stack.api.call<{ jobs: unknown[] }>('GET', '/api/jobs', { token: user.token });
            if (listed.body.jobs.length !== 1) throw new Error(`${user.userId} has ${listed.body.jobs.length} jobs, expected 1`);
          }),
        );
        // Two uploads presigned before either landed: one is admitted, the other fails USER_BUSY uncharged; duplicates change nothing.
        const racer = await s.user('race');
        const [p1, p2] = [await presign(lab, racer), await presign(lab, racer)];
        s.jobIds.push(p1.jobId, p2.jobId);
        await Promise.all([uploadSlot(p1, 'image'), uploadSlot(p2, 'image')]);
        await Promise.all(
          [p1, p2].flatMap((p) => Array.from({ length: 3 }, () => deliverS3Event(lab, p.uploads[0]?.fields.key as string))),
        );
        const ended = await Promise.all([waitJob(lab, p1.jobId), waitJob(lab, p2.jobId)]);
        s.notes.push(`racing uploads ended ${ended.map((j) => `${j.status}${j.error ? `:${j.error.code}` : ''}`).join(' and ')}`);
        // An object that belongs to no upload.
        await deliverS3Event(lab, `inputs/${randomUUID()}/image`);
        await sleep(100);
      },
      { fifo: true },
    );
  }, 90_000);
});
