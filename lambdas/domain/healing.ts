import type { StoredOutcome } from './admission';
import { checkpoint } from './faults';
import { isTerminal, type JobRecord, type UploadIntent } from './jobs';
import type { LifecycleService } from './lifecycle';
import type { Clock, ExecutionStatus, FileStore, JobStore, LiveStore, Provider, QueueStore, Workflow } from './ports';
import type { JobQueue } from './queue';

/** Stragglers diagnosed and healed at once by one sweep. */
const HEAL_CONCURRENCY = 8;

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
  log(message: string, fields: Record<string, unknown>): void;
}

export type Repair =
  | 'queued_without_driver'
  | 'queued_past_timeout'
  | 'running_without_driver'
  | 'running_past_deadline'
  | 'slot_leak'
  | 'lock_leak'
  | 'lost_wakeup'
  | 'lost_admission';

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
    if (age(job.createdAt) > job.limits.queueSeconds * 1000 + graceMs) return 'queued_past_timeout';
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

  const diagnose = (job: JobRecord) => diagnoseJob(job, clock.now(), graceMs, () => workflow.status(job.jobId)) as Promise<Repair | null>;

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
    const failure =
      providerFailed && outcome?.status === 'failed'
        ? { Error: 'ProviderFailed', Cause: JSON.stringify({ errorMessage: outcome.reason }) }
        : { Error: 'Healed' };
    await lifecycle.fail(job.jobId, failure);
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
    // A few jobs at a time: every repair is a conditional write, so heals racing each other (or a live driver)
    // settle in DynamoDB, and a restart's worth of stragglers is healed within one interval, not one by one.
    const pending = [...live];
    const worker = async () => {
      for (let job = pending.shift(); job; job = pending.shift()) {
        const repair = await diagnose(job);
        if (!repair) continue;
        log('healing job', { jobId: job.jobId, status: job.status, repair });
        // A used token is tolerated as "gone", so waking twice is harmless.
        if (repair === 'lost_wakeup') await workflow.resume(job.waitToken as string, { slot: job.slot });
        else await heal(job);
        count(repair);
      }
    };
    await Promise.all(Array.from({ length: HEAL_CONCURRENCY }, worker));
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
    for (const { slot, jobId } of await store.heldSlots()) {
      const job = await store.getJob(jobId);
      if (job?.status === 'running' && job.slot === slot) continue;
      if (await store.releaseSlot(slot, jobId)) count('slot_leak');
    }
    for (const { userId, jobId } of await store.heldLocks()) {
      const job = await store.getJob(jobId);
      if (job && !isTerminal(job.status)) continue;
      if (await store.releaseLock(userId, jobId)) count('lock_leak');
    }
    const granted = await queue.grantNext();
    if (granted > 0) for (let i = 0; i < granted; i++) count('lost_wakeup');
    const queued = live.filter((job) => job.status === 'queued');
    const gauges = {
      queued: queued.length,
      running: live.length - queued.length,
      oldestQueuedSeconds: Math.round(Math.max(0, ...queued.map((job) => age(job.createdAt))) / 1000),
    };
    return { repairs, gauges };
  }

  return { sweep, onExecutionEnded };
}
