import { checkpoint } from './faults';
import type { JobRecord } from './jobs';
import { type LiveUpdates, NO_LIVE_UPDATES } from './live-updates';
import type { Clock, JobStore, QueueStore, Workflow } from './ports';
import { runningDeadlineSeconds } from './run-budget';

export interface QueueDeps {
  store: JobStore & QueueStore;
  workflow: Workflow;
  clock: Clock;
  capacity: number;
  log(message: string, fields: Record<string, unknown>): void;
  /** Hand-off latency: from the grant seeing a free slot to the parked execution of the next job woken (a metric in AWS). */
  recordHandoff?(ms: number): void;
  /** Pushes each grant to its owner and the queue's move to every waiting client, after the hand-offs. */
  live?: LiveUpdates;
  /**
   * With every slot taken, wake the next job in line to stage its inputs at the provider (the state machine's
   * StageInputs) so that its hand-off, when a slot frees, is the create alone.
   */
  stageAhead?: boolean;
}

/** Rounds after which a grant gives up on a queue that keeps changing under it; the next release or the sweeper grants again. */
const MAX_GRANT_ROUNDS = 20;
/**
 * How long a 421/415 holds the slot count down to what the key was running for Ghostless; then grants probe the
 * key again (the next release or sweep). The key's other clients come and go: its answer is not kept for long.
 */
export const BUSY_HOLD_MS = 2000;

/**
 * The FIFO queue and its slots. No polling: a waiting execution parks on a task token, and every
 * enqueue and every release runs `grantNext`, which hands free slots to the head of the queue.
 */
export function jobQueue({ store, workflow, clock, capacity, log, recordHandoff, live = NO_LIVE_UPDATES, stageAhead = false }: QueueDeps) {
  /**
   * Grants free slots to the oldest waiting jobs; the browsers hear of it once every hand-off is done, and then the
   * job left waiting at the head is sent to stage its inputs.
   */
  async function grantNext(): Promise<number> {
    const started: JobRecord[] = [];
    let nextInLine: string | undefined;
    try {
      const round = await grantHeads(started);
      nextInLine = round.nextInLine;
      return round.granted;
    } finally {
      if (started.length > 0) {
        await Promise.all([live.queueMoved({ left: started }), ...started.map((job) => live.jobChanged(job))]);
      }
      if (stageAhead && nextInLine) await requestStaging(nextInLine);
    }
  }

  /**
   * One transaction per grant; conditions settle concurrent grants. Each job granted is added to `started`;
   * `nextInLine` is the head of the queue when no slot is left for it.
   */
  async function grantHeads(started: JobRecord[]): Promise<{ granted: number; nextInLine?: string }> {
    let granted = 0;
    for (let round = 0; round < MAX_GRANT_ROUNDS; round++) {
      const seenAt = clock.now().getTime();
      // Both reads at once: a hand-off is on the critical path of the next job.
      const [all, waiting, key] = await Promise.all([store.freeSlots(capacity), store.queueHeads(capacity), store.providerCapacity()]);
      // Never above MAX_RUNNING; lower while the provider key, shared with its other clients, has said it is full.
      const effective = key && Date.parse(key.until) > clock.now().getTime() ? Math.min(capacity, key.limit) : capacity;
      const free = all.slice(0, Math.max(0, effective - (capacity - all.length)));
      const heads = waiting.slice(0, free.length);
      if (heads.length === 0) return { granted, nextInLine: waiting[0] };
      let changed = false;
      // In order, so no job is granted before an older one: a failed grant means the queue moved, so look again.
      for (const [i, jobId] of heads.entries()) {
        const job = await grantOne(jobId, free[i] as number, seenAt);
        if (!job) {
          changed = true;
          break;
        }
        started.push(job);
        granted++;
      }
      if (!changed && heads.length < free.length) return { granted };
    }
    log('grant gave up on a busy queue', { granted });
    return { granted };
  }

  /**
   * Wakes the parked execution of the next job in line with `{stage: true}` instead of a slot: it stages the job's
   * inputs and parks again. Once per job, and best effort: a job not staged ahead stages them when it runs. A grant
   * racing this wake-up may win the token instead; the job then stages when it runs, as it would have.
   */
  async function requestStaging(jobId: string) {
    try {
      const job = await store.getJob(jobId);
      if (job?.status !== 'queued' || !job.waitToken || job.providerFiles || job.stageRequestedAt) return;
      if (!(await store.requestStaging(jobId, job.waitToken, clock.now().toISOString()))) return;
      await workflow.resume(job.waitToken, { stage: true });
    } catch (error) {
      log('staging request failed', { jobId, error: String(error) });
    }
  }

  async function grantOne(jobId: string, slot: number, seenAt: number) {
    const job = await store.getJob(jobId);
    if (job?.status !== 'queued') return null;
    const now = clock.now();
    // The longest legal path of a running job: the run limit plus retries, collecting and finalizing (run-budget.ts).
    const deadline = new Date(now.getTime() + runningDeadlineSeconds(job.limits.runSeconds) * 1000).toISOString();
    if (!(await store.grant(job, slot, now.toISOString(), deadline))) return null;
    await checkpoint('grant:after-commit', jobId);
    const granted = await store.getJob(jobId);
    // No token yet: the execution has not parked; `park` sees the job running and wakes itself.
    if (granted?.waitToken) {
      await workflow.resume(granted.waitToken, { slot });
      recordHandoff?.(clock.now().getTime() - seenAt);
    }
    return granted ?? { ...job, status: 'running' as const, slot, startedAt: now.toISOString(), deadline };
  }

  /** WaitForSlot: record the token this execution waits on, then try to grant. */
  async function park(jobId: string, token: string) {
    if (await store.recordToken(jobId, 'queued', token)) {
      await grantNext();
      return;
    }
    const job = await store.getJob(jobId);
    if (job?.status === 'running') await workflow.resume(token, { slot: job.slot });
    else await workflow.fail(token, 'JobFinished', `Job is ${job?.status ?? 'missing'}; nothing to wait for.`);
  }

  /**
   * The provider refused a granted job's task (421/415: the key is full; or 500/808 on every try): the job goes back
   * to the head of the queue (not failed, its uploads kept). When the key is full, the slot count drops to what the
   * key was running for Ghostless, so the freed slot is not handed straight back. False when the job changed meanwhile.
   */
  async function yieldSlot(job: JobRecord, { keyFull }: { keyFull: boolean }) {
    if (!(await store.requeue(job))) return false;
    const back = await store.getJob(job.jobId);
    if (back?.status === 'queued') await Promise.all([live.jobChanged(back), live.queueMoved({ joined: [back] })]);
    if (!keyFull) return true;
    const held = capacity - (await store.freeSlots(capacity)).length;
    await store.noteProviderCapacity(held, new Date(clock.now().getTime() + BUSY_HOLD_MS).toISOString());
    log('provider key full: job back at the head of the queue', { jobId: job.jobId, slots: held });
    return true;
  }

  async function stats() {
    return { capacity, ...(await store.counts()) };
  }

  return { grantNext, park, yieldSlot, stats };
}

export type JobQueue = ReturnType<typeof jobQueue>;
