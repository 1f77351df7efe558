import { clearFirings, disarm, type FaultFiring, firings } from '../../lambdas/domain/faults';
import { isTerminal, type JobRecord } from '../../lambdas/domain/jobs';
import {
  cancelProviderTask,
  executionOf,
  HEAL_SLACK_MS,
  http,
  jobIdOfWebhook,
  type Lab,
  ms,
  newUser,
  readJob,
  sleep,
  submit,
  type TestUser,
  waitAllTerminal,
  waitJob,
} from './fault-lab';
import { startSampler } from './fault-sampler';
import { checkInvariants } from './invariants';

/** A job that lost its driver (or its wake-up) at `t0`; healed when it is terminal (or started) again. */
interface Victim {
  jobId: string;
  t0: number;
  until?: 'terminal' | 'started';
  why: string;
}

export interface MatrixRow {
  file: string;
  fault: string;
  jobs: number;
  succeeded: number;
  failed: Record<string, number>;
  cancelled: number;
  healed: number;
  healTimesMs: number[];
  boundMs: number;
  zombies: number;
  orphanTasks: number;
  /** Invariants 2/3 sampled every 100 ms while the scenario ran: how many samples, and the most jobs seen running. */
  samples?: number;
  maxRunningSeen?: number;
  invariantsOk: boolean;
  violations: string[];
  notes: string[];
}

export interface Scenario {
  lab: Lab;
  /** Jobs of this scenario: all must be terminal at the end. */
  jobIds: string[];
  userIds: string[];
  victims: Victim[];
  /** jobId → the outcome it must have (`status` or `status:CODE`, alternatives separated by `|`). */
  expect: Record<string, string>;
  notes: string[];
  user(prefix?: string, balance?: number): Promise<TestUser>;
  submit(user: TestUser, options?: Parameters<typeof submit>[2]): Promise<string>;
}

/**
 * Runs one fault scenario: `body` arms faults and submits jobs; then every job must end, the invariants
 * hold, every victim heals within SWEEP_INTERVAL_MS + HEAL_GRACE_MS, and each user can run one more job
 * to success. Returns the matrix row (violations listed, never thrown).
 */
export async function runScenario(
  lab: Lab,
  file: string,
  fault: string,
  body: (s: Scenario) => Promise<void>,
  options: {
    fifo?: boolean;
    timeoutMs?: number;
    followUp?: boolean;
    /** Attempts per user for the follow-up job when the provider fails some tasks on purpose (PROVIDER_FAIL_RATE). */
    followUpAttempts?: number;
    /** Processing allowed on top of the bound (default HEAL_SLACK_MS). */
    healSlackMs?: number;
    /** Called once every job of the scenario is terminal, before the follow-ups (e.g. to switch faults off). */
    onSettled?: () => unknown;
  } = {},
): Promise<MatrixRow> {
  clearFirings();
  const startedAt = Date.now();
  const sampler = startSampler(lab);
  const scenario: Scenario = {
    lab,
    jobIds: [],
    userIds: [],
    victims: [],
    expect: {},
    notes: [],
    async user(prefix = 'u', balance = 50) {
      const user = await newUser(lab, prefix, balance);
      scenario.userIds.push(user.userId);
      return user;
    },
    async submit(user, submitOptions) {
      const jobId = await submit(lab, user, submitOptions);
      scenario.jobIds.push(jobId);
      return jobId;
    },
  };
  const violations: string[] = [];
  try {
    await body(scenario);
  } catch (error) {
    violations.push(`scenario failed: ${(error as Error).stack ?? error}`);
  }
  const pending = await waitAllTerminal(lab, scenario.jobIds, options.timeoutMs ?? 30_000);
  disarm();
  await options.onSettled?.();
  for (const jobId of pending) violations.push(`inv1: ${jobId} not terminal after ${(options.timeoutMs ?? 30_000) / 1000} s`);
  const fired = firings();

  // Outcomes, healed jobs and their heal times.
  const jobs = (await Promise.all(scenario.jobIds.map((id) => readJob(lab, id)))).filter((j): j is JobRecord => !!j);
  const failed: Record<string, number> = {};
  for (const job of jobs.filter((j) => j.status === 'failed')) failed[job.error?.code ?? '?'] = (failed[job.error?.code ?? '?'] ?? 0) + 1;
  const heal = new Map<string, { ms: number; why: string }>();
  const victims = new Map(scenario.victims.map((v) => [v.jobId, v]));
  let healed = 0;
  for (const job of jobs) {
    const execution = executionOf(lab, job.jobId);
    // Finalized by the healer: HEALED, or an admitted job whose execution did not end through Finalize (user cancels aside).
    const byHealer =
      job.error?.code === 'HEALED' ||
      (job.charged &&
        isTerminal(job.status) &&
        job.error?.code !== 'CANCELLED_BY_USER' &&
        execution?.status !== 'SUCCEEDED' &&
        execution?.status !== 'RUNNING');
    if (byHealer) healed++;
    const victim = victims.get(job.jobId);
    if (!byHealer && !victim) continue;
    const end = victim?.until === 'started' ? ms(job.startedAt) : ms(job.completedAt);
    heal.set(job.jobId, { ms: end - (victim?.t0 ?? driverLostAt(job, execution, fired, lab)), why: victim?.why ?? 'healed' });
  }
  for (const victim of scenario.victims)
    if (!jobs.some((j) => j.jobId === victim.jobId)) violations.push(`victim ${victim.jobId} has no job`);
  for (const [jobId, { ms: took, why }] of heal) {
    const slack = options.healSlackMs ?? HEAL_SLACK_MS;
    if (!(took <= lab.boundMs + slack)) {
      violations.push(`inv1: ${jobId} (${why}) took ${Math.round(took)} ms to heal, bound ${lab.boundMs} ms (+${slack} ms processing)`);
    }
  }
  // A slot held by a job that never reached the provider: granted, but its execution was never woken. A job
  // with a "creating" marker did reach it (its create was sent; only the task id was lost): not this case.
  for (const job of jobs) {
    if (!job.startedAt || job.providerTaskId || job.creatingAt || !isTerminal(job.status) || victims.has(job.jobId)) continue;
    const held = ms(job.completedAt) - ms(job.startedAt);
    if (held > lab.boundMs + (options.healSlackMs ?? HEAL_SLACK_MS)) {
      violations.push(
        `inv1: ${job.jobId} held slot ${job.slot} for ${held} ms without ever reaching the provider (granted, never woken; ended ${job.status}:${job.error?.code})`,
      );
    }
  }
  for (const [jobId, wanted] of Object.entries(scenario.expect)) {
    const job = jobs.find((j) => j.jobId === jobId);
    const got = job ? `${job.status}${job.error ? `:${job.error.code}` : ''}` : 'missing';
    // `status`, `status:CODE`, or alternatives separated by `|`.
    if (!wanted.split('|').some((w) => w === got || w === job?.status)) violations.push(`expected ${jobId} to end ${wanted}, got ${got}`);
  }

  // Driverless leftovers: executions still running for a finished job, provider tasks nobody will stop.
  const terminal = new Set(jobs.filter((j) => isTerminal(j.status)).map((j) => j.jobId));
  await sleep(Number(lab.env.PROVIDER_LATENCY_MS) + 300);
  const zombies = lab.stack.stepFunctions
    .listExecutions({ statusFilter: 'RUNNING', maxResults: 1000 })
    .executions.filter((e) => terminal.has(e.name));
  const byJob = new Map(jobs.map((j) => [j.jobId, j]));
  const tasks = lab.stack.provider
    .tasks()
    .filter((t) => Date.parse(t.createdAt) >= startedAt && terminal.has(jobIdOfWebhook(t.webhookUrl) ?? ''));
  // Left running for a finished job (nobody will stop it), or run to its end without its job knowing it (billed for nothing).
  const running = tasks.filter((t) => t.status === 'QUEUED' || t.status === 'RUNNING');
  const untracked = tasks.filter(
    (t) => !running.includes(t) && t.status !== 'CANCELLED' && byJob.get(jobIdOfWebhook(t.webhookUrl) ?? '')?.providerTaskId !== t.taskId,
  );
  for (const task of running) await cancelProviderTask(lab, task.taskId); // so they do not hold the provider's slots in later scenarios
  if (zombies.length)
    scenario.notes.push(`${zombies.length} execution(s) still RUNNING for finished jobs (they end at their state's timeout)`);
  if (running.length)
    scenario.notes.push(`${running.length} provider task(s) left running for finished jobs (cancelled by the test afterwards)`);
  if (untracked.length) scenario.notes.push(`${untracked.length} provider task(s) ran to the end without their job recording them`);
  const orphans = [...running, ...untracked];

  // Nobody stays blocked: each user runs one more job to success.
  const followUps: string[] = [];
  if (options.followUp !== false) {
    await Promise.all(
      scenario.userIds.map(async (userId) => {
        const token = (await http<{ token: string }>(lab, 'POST', '/api/local/token', { body: { userId } })).body.token;
        let lastError = '';
        try {
          for (let attempt = 1; ; attempt++) {
            const jobId = await submit(lab, { userId, token });
            followUps.push(jobId);
            const job = await waitJob(lab, jobId, (j) => isTerminal(j.status), 20_000);
            if (job.status === 'succeeded') break;
            lastError = `${job.status} ${job.error?.code ?? ''} (${job.error?.message ?? ''})`;
            const retry = job.error?.code === 'PROVIDER_ERROR' && attempt < (options.followUpAttempts ?? 1);
            if (!retry) {
              violations.push(`follow-up: ${userId}'s next job ended ${lastError}`);
              break;
            }
          }
        } catch (error) {
          violations.push(`follow-up: ${userId} could not run another job: ${(error as Error).message}`);
        }
      }),
    );
  }
  await sampler.stop();
  violations.push(...sampler.violations);
  const checked = await checkInvariants(lab, { userIds: scenario.userIds, jobIds: [...scenario.jobIds, ...followUps], fifo: options.fifo });
  violations.push(...checked.violations);

  const row: MatrixRow = {
    file,
    fault,
    jobs: scenario.jobIds.length,
    succeeded: jobs.filter((j) => j.status === 'succeeded').length,
    failed,
    cancelled: jobs.filter((j) => j.status === 'cancelled').length,
    healed,
    healTimesMs: [...heal.values()].map((h) => Math.round(h.ms)),
    boundMs: lab.boundMs,
    zombies: zombies.length,
    orphanTasks: orphans.length,
    samples: sampler.samples,
    maxRunningSeen: sampler.maxRunning,
    invariantsOk: violations.length === 0,
    violations,
    notes: scenario.notes,
  };
  return row;
}

/** When a healed job (not named as a victim) lost its driver: the fault that hit it, its execution's end, or its creation. */
function driverLostAt(job: JobRecord, execution: ReturnType<typeof executionOf>, fired: FaultFiring[], lab: Lab) {
  const hit = fired.find((f) => f.subject === job.jobId);
  if (hit) return hit.at;
  const stop = execution?.stopDate?.getTime();
  if (stop !== undefined && stop <= ms(job.completedAt)) return stop;
  if (!execution) return ms(job.createdAt);
  // Still RUNNING when healed (its execution was stopped by the healer): the deadline if past it, else when last seen alive.
  if (job.deadline && ms(job.completedAt) > ms(job.deadline) + lab.graceMs) return ms(job.deadline);
  return ms(job.startedAt ?? job.createdAt);
}
