import type { StoredOutcome } from './admission';
import { checkpoint } from './faults';
import { isTerminal, type JobRecord, msUntilQueueTimeout, type UploadIntent } from './jobs';
import type { LifecycleService } from './lifecycle';
import type { Clock, ExecutionStatus, FileStore, JobStore, LiveStore, Provider, QueueStore, Workflow } from './ports';
import type { JobQueue } from './queue';

/** Stragglers diagnosed and healed at once by one sweep. */
const HEAL_CONCURRENCY = 8;
/**
 * DescribeExecution calls one sweep makes at most. Step Functions throttles DescribeExecution per account and region
 * with a token bucket; the lowest quota AWS has published is a bucket of 200 refilled at 2/s (120 a minute). 100 per
 * one-minute sweep fits the bucket as a burst and stays under the refill, leaving room for `npm run audit`. The job's
 * own state decides first (in grace, past its timeout or deadline: no call), then one ListExecutions page per 1,000
 * running executions (5,000 live jobs: 5 calls); only jobs missing from that list are described, to confirm, least
 * recently described first. More than 100 of those at once (a mass failure) take ⌈N / 100⌉ sweeps; an execution that
 * fails, times out or is aborted is healed by the execution-ended rule within seconds anyway.
 */
export const DESCRIBES_PER_SWEEP = 100;

export interface HealingDeps {
  store: JobStore & QueueStore & LiveStore;
  workflow: Workflow;
  provider: Provider;
  lifecycle: LifecycleService;
  queue: JobQueue;
  /** The S3 event's own admission: the sweeper runs it for an upload whose event was lost. */
  admission: { onInputStored(key: string): Promise<StoredOutcome> };
  files: Pick<FileStore, 'storedAt'>;
  clock: Clock;
  /** How long a job may look driverless before it is healed (covers start-up races). */
  graceMs: number;
  /** DescribeExecution calls per sweep (default DESCRIBES_PER_SWEEP). */
  describeBudget?: number;
  log(message: string, fields: Record<string, unknown>): void;
}

/** Every kind of repair a sweep counts (one metric each). */
export const REPAIRS = [
  'queued_without_driver',
  'queued_past_timeout',
  'running_without_driver',
  'running_past_deadline',
  'slot_leak',
  'lock_leak',
  'lost_wakeup',
  'lost_admission',
] as const;
export type Repair = (typeof REPAIRS)[number];

/**
 * Why a live job has no working driver, or null if it has one: the sweeper's rule, shared with `npm run audit`.
 * `executionStatus` may answer undefined (no Step Functions access): then the verdict is 'unverified'.
 */
export async function diagnoseJob(
  job: JobRecord,
  now: Date,
  graceMs: number,
  executionStatus: () => Promise<ExecutionStatus | undefined>,
): Promise<Repair | 'unverified' | null> {
  const age = (iso: string | null | undefined) => (iso ? now.getTime() - Date.parse(iso) : 0);
  if (job.status === 'queued') {
    if (age(job.createdAt) < graceMs) return null;
    if (msUntilQueueTimeout(job, now) < -graceMs) return 'queued_past_timeout';
  } else {
    if (job.deadline && age(job.deadline) > graceMs) return 'running_past_deadline';
    // From admission, not from the grant: a driverless job granted late gets no second grace.
    if (age(job.createdAt) < graceMs) return null;
  }
  const execution = await executionStatus();
  if (execution === undefined) return 'unverified';
  if (execution !== 'RUNNING') return job.status === 'queued' ? 'queued_without_driver' : 'running_without_driver';
  // Granted, but the wake-up never reached the parked execution (crash or failed SendTaskSuccess).
  return job.status === 'running' && !job.runToken && job.waitToken && age(job.startedAt) > graceMs ? 'lost_wakeup' : null;
}

/**
 * Finds what a crash, an aborted execution or a lost event left behind and finalizes it. Every write is
 * conditional on what was read, so a live driver that moves on at the same moment wins and nothing is undone.
 */
export function healing(deps: HealingDeps) {
  const { store, workflow, provider, lifecycle, queue, clock, graceMs, log, files } = deps;

  const age = (iso: string | null | undefined) => (iso ? clock.now().getTime() - Date.parse(iso) : 0);

  /** When each live job's execution was last described (this warm sweeper's memory): the budget goes to the oldest. */
  const describedAt = new Map<string, number>();

  /**
   * Finalizes a driverless job. A provider task known to have finished keeps its real outcome;
   * anything else ends `failed` with HEALED and a refund. A task Ghostless cancelled itself (an earlier
   * heal that stopped it and then failed to finalize) reads `failed` at the provider: that is not a
   * provider error.
   */
  async function heal(job: JobRecord) {
    const ask = job.providerTaskId && !job.providerCancelledAt;
    const outcome = ask ? await provider.outputs(job.providerTaskId as string).catch(() => null) : null;
    if (outcome?.status === 'succeeded') {
      try {
        await lifecycle.succeed(job.jobId, await lifecycle.collectOutputs(job.jobId));
        return;
      } catch (error) {
        log('healing could not collect outputs', { jobId: job.jobId, error: (error as Error).message });
      }
    }
    // A concurrent healer (sweeper and execution-ended) may have cancelled the task since this one looked.
    const providerFailed = outcome?.status === 'failed' && !(await store.getJob(job.jobId))?.providerCancelledAt;
    await lifecycle.fail(
      job.jobId,
      providerFailed && outcome?.status === 'failed' ? { kind: 'provider-failed', reason: outcome.reason } : { kind: 'healed' },
    );
    // A driver that still runs (past its deadline) must not act on the healed job.
    await workflow.stop(job.jobId, 'Healed by the sweeper');
  }

  /** The execution-failure path (EventBridge: FAILED, TIMED_OUT, ABORTED): late, repeated or after a sweep is fine. */
  async function onExecutionEnded(jobId: string) {
    await checkpoint('execution-ended:before-heal', jobId);
    const job = await store.getJob(jobId);
    if (job && !isTerminal(job.status)) await heal(job);
  }

  /**
   * An upload with every input in S3 and no job: its S3 event was lost (failed all of Lambda's retries, or died
   * between recording the input and admitting). Runs the same admission the event would have, for the inputs it
   * has not recorded; every step of it is idempotent, so a late event or a concurrent sweep changes nothing.
   * True when the job now exists because of it.
   */
  async function readmit({ intent, storedSlots }: { intent: UploadIntent; storedSlots: string[] }) {
    if (await store.getJob(intent.jobId)) {
      await store.settleIntent(intent.jobId);
      return false;
    }
    const now = clock.now().getTime();
    const slots = Object.entries(intent.files);
    const storedAt = await Promise.all(slots.map(([, file]) => files.storedAt(file.key)));
    if (storedAt.some((at) => at === null)) {
      // The window closed with an input missing: nothing more can be uploaded, stop looking at it.
      if (now > Date.parse(intent.expiresAt) + graceMs) await store.settleIntent(intent.jobId);
      return false;
    }
    // Give each input's own S3 event its grace to arrive first. (S3's LastModified has second precision, so this can
    // start up to a second early; racing the event's own admission is harmless: every step of it is idempotent.)
    if (storedAt.some((at) => now - (at as Date).getTime() < graceMs)) return false;
    const unrecorded = slots.filter(([slot]) => !storedSlots.includes(slot));
    log('re-driving a lost admission', { jobId: intent.jobId, slots: unrecorded.map(([slot]) => slot) });
    // All recorded but no job: admission died before admitting; the last input's admission admits it.
    for (const [, file] of unrecorded.length > 0 ? unrecorded : slots.slice(-1)) await deps.admission.onInputStored(file.key);
    return (await store.getJob(intent.jobId)) !== null;
  }

  async function sweep() {
    await checkpoint('sweep:start');
    const repairs: Partial<Record<Repair, number>> = {};
    const count = (repair: Repair) => {
      repairs[repair] = (repairs[repair] ?? 0) + 1;
    };

    const live = await store.liveJobs();
    const liveById = new Map(live.map((job) => [job.jobId, job]));
    const scan = { examined: 0, listed: 0, described: 0, deferred: 0, failed: 0 };
    // Running executions, listed in pages of 1,000 (read after the jobs: an execution listed is still running now).
    // Only a job whose execution is not listed is described, to confirm it ended; without the list, every one is.
    const running = await workflow.runningJobIds?.().catch((error: unknown) => {
      log('listing running executions failed; describing each job', { error: (error as Error).message });
      return undefined;
    });
    let budget = deps.describeBudget ?? DESCRIBES_PER_SWEEP;
    const describe = async (jobId: string) => {
      if (running?.has(jobId)) {
        scan.listed++;
        return 'RUNNING' as const;
      }
      if (budget <= 0) return undefined;
      budget--;
      scan.described++;
      const status = await workflow.status(jobId);
      describedAt.set(jobId, clock.now().getTime());
      return status;
    };
    // A few jobs at a time: every repair is a conditional write, so heals racing each other (or a live driver)
    // settle in DynamoDB, and a restart's worth of stragglers is healed within one interval, not one by one.
    const pending = [...live].sort((a, b) => (describedAt.get(a.jobId) ?? 0) - (describedAt.get(b.jobId) ?? 0));
    let next = 0;
    const worker = async () => {
      for (let job = pending[next++]; job; job = pending[next++]) {
        scan.examined++;
        try {
          const repair = await diagnoseJob(job, clock.now(), graceMs, () => describe(job.jobId));
          // Out of DescribeExecution calls for this sweep: a later sweep looks at it first.
          if (repair === 'unverified') scan.deferred++;
          if (!repair || repair === 'unverified') continue;
          log('healing job', { jobId: job.jobId, status: job.status, repair });
          // A used token is tolerated as "gone", so waking twice is harmless.
          if (repair === 'lost_wakeup') await workflow.resume(job.waitToken as string, { slot: job.slot });
          else await heal(job);
          count(repair);
        } catch (error) {
          // A throttled call or a failed heal must not stop the sweep: the next one tries this job again.
          scan.failed++;
          log('examining a job failed', { jobId: job.jobId, error: (error as Error).message });
        }
      }
    };
    await Promise.all(Array.from({ length: HEAL_CONCURRENCY }, worker));
    for (const jobId of describedAt.keys()) if (!liveById.has(jobId)) describedAt.delete(jobId);
    const intents = await store.pendingIntents();
    const readmitter = async () => {
      for (let pending = intents.shift(); pending; pending = intents.shift()) {
        try {
          if (await readmit(pending)) count('lost_admission');
        } catch (error) {
          // One upload that cannot be admitted now must not stop the sweep: it is tried again next time.
          log('re-driving an admission failed', { jobId: pending.intent.jobId, error: (error as Error).message });
        }
      }
    };
    await Promise.all(Array.from({ length: HEAL_CONCURRENCY }, readmitter));
    // The live list already shows most holders alive (finalizing releases slot and lock in the same transaction).
    const holds = (job: JobRecord | undefined, slot: number) => job?.status === 'running' && job.slot === slot;
    const attempt = async (what: string, fields: Record<string, unknown>, step: () => Promise<unknown>) => {
      try {
        await step();
      } catch (error) {
        scan.failed++;
        log(`${what} failed`, { ...fields, error: (error as Error).message });
      }
    };
    for (const { slot, jobId } of await store.heldSlots()) {
      if (holds(liveById.get(jobId), slot)) continue;
      // Not read first: the release itself checks, at its write, that the job does not run in this slot (a job sent
      // back to the queue can be granted the same slot again between a read and the write).
      await attempt('releasing a slot', { slot, jobId }, async () => {
        if (await store.releaseSlot(slot, jobId)) count('slot_leak');
      });
    }
    for (const { userId, jobId } of await store.heldLocks()) {
      if (liveById.has(jobId)) continue;
      await attempt('checking a lock', { userId, jobId }, async () => {
        const job = await store.getJob(jobId);
        if (job && !isTerminal(job.status)) return;
        if (await store.releaseLock(userId, jobId)) count('lock_leak');
      });
    }
    let granted = 0;
    await attempt('granting', {}, async () => {
      granted = await queue.grantNext();
    });
    if (granted > 0) for (let i = 0; i < granted; i++) count('lost_wakeup');
    // Housekeeping, not a repair: keeps a position's reads to the minutes that still have someone waiting.
    await attempt('pruning queue counters', {}, () => store.pruneQueueCounters(clock.now()));
    const queued = live.filter((job) => job.status === 'queued');
    const gauges = {
      queued: queued.length,
      running: live.length - queued.length,
      oldestQueuedSeconds: Math.round(Math.max(0, ...queued.map((job) => age(job.createdAt))) / 1000),
    };
    return { repairs, gauges, scan };
  }

  return { sweep, onExecutionEnded };
}
