import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { outputRule } from './catalog';
import {
  type JobErrorCode,
  JobFinished,
  NotFound,
  ProviderBusy,
  ProviderFailed,
  ProviderOutcomeUnknown,
  ProviderUnavailable,
} from './errors';
import { checkpoint } from './faults';
import { isTerminal, type JobRecord, msUntilQueueTimeout, outputKey } from './jobs';
import { type LiveUpdates, NO_LIVE_UPDATES } from './live-updates';
import type { Clock, FileStore, FinalChange, JobStore, Provider, QueueStore, Workflow } from './ports';
import { BUSY_HOLD_MS, type JobQueue } from './queue';
import { presignInputs } from './staging';

export interface LifecycleDeps {
  store: JobStore & QueueStore;
  files: FileStore;
  provider: Provider;
  workflow: Workflow;
  queue: JobQueue;
  clock: Clock;
  /** Public base URL of the API, for the provider's webhook. */
  callbackBaseUrl: string | undefined;
  log(message: string, fields: Record<string, unknown>): void;
  /** Counts one finished job by outcome and tool (a metric in AWS). */
  countOutcome(status: FinalChange['status'], tool: JobRecord['tool']): void;
  /** Told once a job's terminal state is committed (the push notification); never throws. */
  onEnded?(job: JobRecord): Promise<void>;
  /** Pushes the final state to the job's owner (and a queued job's exit to every waiting client). */
  live?: LiveUpdates;
}

/** Why a job failed, in the domain's terms (the finalize handler reads it from the state machine's Catch). */
export type JobFailure =
  /** The step it was in ran out of time: the queue's timeout while queued, the provider's once running. */
  | { kind: 'timeout' }
  | { kind: 'queue-timeout' }
  | { kind: 'healed' }
  /** The provider ran the task and it failed; `reason` is the provider's own message, shown to the user. */
  | { kind: 'provider-failed'; reason?: string }
  /** The provider refused the task on every try. */
  | { kind: 'provider-refused' }
  | { kind: 'internal' };

const MAX_FINALIZE_ATTEMPTS = 5;
/** Tries to record a created task (each with the SDK's own retries inside). */
const RECORD_TASK_ATTEMPTS = 4;
const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

/** Everything after admission: running on the provider, collecting outputs, and finalizing on every path. */
export function lifecycle(deps: LifecycleDeps) {
  const { store, files, provider, workflow, queue, clock, log } = deps;
  const live = deps.live ?? NO_LIVE_UPDATES;

  async function liveJob(jobId: string) {
    const job = await store.getJob(jobId);
    if (!job) throw new Error(`Job ${jobId} does not exist`);
    return job;
  }

  /**
   * RunOnProvider: start the provider task; the webhook resumes the execution through `token`.
   * The secret, the token and a "creating" marker are recorded before create: a task whose answer is lost (or
   * whose Lambda dies right after creating it) still calls back with the secret, and the callback adopts it.
   */
  async function startRun(jobId: string, token: string) {
    const job = await liveJob(jobId);
    if (job.status !== 'running') {
      await workflow.fail(token, 'JobFinished', `Job is ${job.status}.`);
      return;
    }
    if (!deps.callbackBaseUrl) throw new Error('PUBLIC_API_URL is not set: the provider could not call back');
    // Staged once per job, ahead while it waited (staging.ts) or now: a retry after 421 (or any failure) reuses them.
    const staged = job.providerFiles ?? (await provider.stageInputs(await presignInputs(files, job)));
    const secret = randomBytes(24).toString('base64url');
    const marker = { callbackSecretHash: sha256(secret), creatingAt: clock.now().toISOString(), providerFiles: staged };
    if (!(await store.recordToken(jobId, 'running', token, marker))) {
      await workflow.fail(token, 'JobFinished', 'Job ended before its task was created.');
      return;
    }
    const webhookUrl = `${deps.callbackBaseUrl}/api/provider/callback/${jobId}?secret=${secret}`;
    let taskId: string;
    try {
      ({ taskId } = await provider.createTask({ tool: job.tool, params: job.params, files: staged, webhookUrl }));
    } catch (error) {
      if (error instanceof ProviderOutcomeUnknown) {
        // The create may have started a task: its webhook carries this job's secret and adopts it while the job
        // runs (onProviderCallback); if none comes, the run timeout ends the job. RunOnProvider stays parked.
        log('create answer lost: waiting for the task to call back', { jobId, error: error.message });
        return;
      }
      if (!(error instanceof ProviderBusy || error instanceof ProviderUnavailable)) throw error;
      // The key is full (its other clients count), or the provider refused for now: no task exists. The job does
      // not fail for it; only the queue timeout can end it, counted from its admission, not from this refusal.
      const left = queueTimeLeft(job, clock.now());
      if (left === null) {
        await workflow.fail(token, 'QueueTimeout', `${(error as Error).message}; the queue timeout has passed.`);
        return;
      }
      // Back to the head of the queue; the state machine parks the execution in WaitForSlot again, for what is
      // left of the job's queue timeout.
      if (await queue.yieldSlot({ ...job, providerFiles: staged }, { keyFull: error instanceof ProviderBusy })) {
        await workflow.fail(token, 'Requeued', JSON.stringify({ queueTimeoutSeconds: left }));
        return;
      }
      await workflow.fail(token, 'JobFinished', 'Job ended while the provider was busy.');
      return;
    }
    await checkpoint('run:after-create', jobId);
    if (!(await recordTask(jobId, taskId))) {
      const now = await store.getJob(jobId);
      // Its webhook came first and adopted it (and resumed the execution): nothing left to do.
      if (now?.status === 'running' && now.providerTaskId === taskId) return;
      // Cancelled while the task was being created: stop it so it is not billed.
      await cancelProviderTask(taskId);
      await workflow.fail(token, 'JobFinished', 'Job ended while its task was starting.');
      return;
    }
    // A fast task may have called back before its id was recorded (and been turned away): look once. A blip
    // here is not the job's failure: the webhook, retried by the provider, still comes.
    const outcome = await provider.outputs(taskId).catch((error: unknown) => {
      log('outputs check after create failed', { jobId, taskId, error: (error as Error).message });
      return null;
    });
    if (outcome && outcome.status !== 'running') await workflow.resume(token, { taskId });
  }

  /**
   * Records a created task on its job. The task exists and is billed from now on: a failed write is tried
   * again (it is conditional, so a write that did commit answers false and the re-read settles it) rather
   * than leaving a task nobody recorded.
   */
  async function recordTask(jobId: string, taskId: string) {
    for (let attempt = 1; ; attempt++) {
      try {
        return await store.adoptTask(jobId, taskId);
      } catch (error) {
        if (attempt >= RECORD_TASK_ATTEMPTS) throw error;
        log('recording the provider task failed; trying again', { jobId, taskId, error: (error as Error).message });
        await new Promise((done) => setTimeout(done, 100 * 2 ** attempt));
      }
    }
  }

  /**
   * The provider's webhook. Only the per-job secret is accepted. A task the job did not record yet (its create
   * answer was lost, or its Lambda died) is adopted while the job runs; any other task bearing the secret is
   * stopped. Late, repeated or foreign calls change nothing else.
   */
  async function onProviderCallback(jobId: string, secret: string | undefined, body: unknown) {
    const job = await store.getJob(jobId);
    const expected = job?.callbackSecretHash;
    if (!job || !expected || !secret || !timingSafeEqual(Buffer.from(sha256(secret)), Buffer.from(expected))) {
      throw new NotFound('No task waits for this callback.');
    }
    const raw = (body as { taskId?: unknown } | null)?.taskId;
    const taskId = typeof raw === 'string' || typeof raw === 'number' ? String(raw) : '';
    if (!taskId || taskId === job.providerTaskId) {
      if (job.status !== 'running' || !job.runToken || !taskId) return { accepted: false };
      await workflow.resume(job.runToken, { taskId });
      return { accepted: true };
    }
    if (job.status === 'running' && job.runToken && !job.providerTaskId && (await store.adoptTask(jobId, taskId))) {
      log('provider task adopted by its webhook', { jobId, taskId });
      await workflow.resume(job.runToken, { taskId });
      return { accepted: true };
    }
    // A second task of this job (a create retried after a lost answer), or one of a job that has ended.
    log('provider task not accounted for: cancelling it', { jobId, taskId, status: job.status });
    await cancelProviderTask(taskId);
    return { accepted: false };
  }

  /** CollectOutputs: copy the provider's files into our bucket; a failed task becomes PROVIDER_ERROR. */
  async function collectOutputs(jobId: string) {
    const job = await liveJob(jobId);
    if (!job.providerTaskId) throw new Error(`Job ${jobId} has no provider task`);
    const outcome = await provider.outputs(job.providerTaskId);
    if (outcome.status === 'failed') throw new ProviderFailed(outcome.reason);
    if (outcome.status === 'running') throw new Error('The provider called back before its task ended');
    if (outcome.outputs.length === 0) throw new ProviderFailed('The provider returned no output.');
    // One at a time: each stream holds a bounded buffer, and the function's memory is sized for one.
    const collected = [];
    for (const [index, output] of outcome.outputs.entries()) {
      const key = outputKey(jobId, index);
      collected.push({ key, ...(await files.collect(output.fileUrl, key, outputRule(job.tool))) });
    }
    return collected;
  }

  /** Moves a live job to its terminal state, retrying on concurrent changes; hands a released slot on. */
  async function finish(jobId: string, decide: (job: JobRecord) => FinalChange | null): Promise<JobRecord | null> {
    for (let attempt = 0; attempt < MAX_FINALIZE_ATTEMPTS; attempt++) {
      const job = await store.getJob(jobId);
      if (!job || isTerminal(job.status)) return null;
      const change = decide(job);
      if (!change) return null;
      if (await store.finalize(job, change)) {
        await checkpoint('finalize:after-commit', jobId);
        deps.countOutcome(change.status, job.tool);
        // The job is final either way: a failed hand-off is a lost wake-up the sweeper repairs.
        if (job.status === 'running')
          await queue.grantNext().catch((error) => log('grant after finalize failed', { jobId, error: String(error) }));
        const { refund, ...final } = change;
        const ended: JobRecord = { ...job, ...final, refunded: job.refunded || (refund && job.charged) };
        // After the commit and the hand-off: the next job never waits on a browser or a push service.
        await Promise.all([
          live.jobChanged(ended),
          job.status === 'queued' ? live.queueMoved({ left: [job] }) : undefined,
          deps.onEnded?.(ended),
        ]);
        return ended;
      }
    }
    throw new Error(`Job ${jobId} kept changing while being finalized`);
  }

  const change = (status: FinalChange['status'], error: FinalChange['error'], refund: boolean, outputs: JobRecord['outputs'] = []) => ({
    status,
    error,
    refund,
    outputs,
    completedAt: clock.now().toISOString(),
  });

  /** Finalize (success path). */
  async function succeed(jobId: string, outputs: JobRecord['outputs']) {
    await finish(jobId, () => change('succeeded', null, false, outputs));
  }

  /** Finalize (any Catch). The job's state says where it failed: a timeout while queued is the queue's. */
  async function fail(jobId: string, failure: JobFailure) {
    // Stop the provider task first: a retry after a crash must not leave it running (and billed).
    await stopProviderTask(await store.getJob(jobId));
    await finish(jobId, (job) => {
      const code = failureCode(job, failure);
      return change('failed', { code, message: failureMessage(code, failure) }, job.charged);
    });
  }

  /**
   * Cancels the user's own job: queued → refunded; running → provider task cancelled, no refund. `onlyWaiting`
   * cancels nothing once the job has started (the finalize is conditional on the status it decided from).
   */
  async function cancel(userId: string, jobId: string, { onlyWaiting = false } = {}) {
    const job = await store.getJob(jobId);
    if (!job || job.userId !== userId) throw new NotFound('No job with this id.');
    // Before the slot is handed on, so the next job does not find the provider's account full.
    await stopProviderTask(job);
    const ended = await finish(jobId, (current) =>
      onlyWaiting && current.status !== 'queued'
        ? null
        : change(
            'cancelled',
            { code: 'CANCELLED_BY_USER', message: 'You cancelled this job.' },
            current.status === 'queued' && current.charged,
          ),
    );
    if (!ended) throw new JobFinished();
    await checkpoint('cancel:after-finalize', jobId);
    // A task created between the first look and the commit; startRun cancels it too.
    if (ended.providerTaskId && ended.providerTaskId !== job.providerTaskId) await cancelProviderTask(ended.providerTaskId);
    await workflow.stop(jobId, 'Cancelled by the user');
    return ended;
  }

  /**
   * The "release queue" button: cancels the caller's waiting job, with refund. A job granted a slot between the
   * click and the write keeps running: the user asked to leave the queue, not to stop a started job unrefunded.
   */
  async function releaseQueue(userId: string, activeJobId: string | null) {
    const job = activeJobId ? await store.getJob(activeJobId) : null;
    if (job?.status !== 'queued') return { cancelled: [] as string[] };
    try {
      await cancel(userId, job.jobId, { onlyWaiting: true });
      return { cancelled: [job.jobId] };
    } catch (error) {
      // It started or ended meanwhile: nothing is waiting any more.
      if (error instanceof JobFinished) return { cancelled: [] as string[] };
      throw error;
    }
  }

  /**
   * Cancels the running job's task, noted on the job first: if finalizing then fails and is retried, the
   * healer reads the task's `failed` outcome as Ghostless's own cancel, not as PROVIDER_ERROR.
   */
  async function stopProviderTask(job: JobRecord | null) {
    if (job?.status !== 'running' || !job.providerTaskId) return;
    if (!job.providerCancelledAt) await store.noteTaskCancelled(job.jobId, clock.now().toISOString());
    await cancelProviderTask(job.providerTaskId);
  }

  async function cancelProviderTask(taskId: string) {
    try {
      await provider.cancel(taskId);
    } catch (error) {
      log('provider cancel failed', { taskId, error: (error as Error).message });
    }
  }

  return { startRun, onProviderCallback, collectOutputs, succeed, fail, cancel, releaseQueue };
}

export type LifecycleService = ReturnType<typeof lifecycle>;

/**
 * Whole seconds a job sent back to the queue may still wait there, after the state machine's BUSY_HOLD pause: its
 * queue timeout counts from its admission (as the sweeper's does), not from each return. Null when none is left.
 */
function queueTimeLeft(job: JobRecord, now: Date): number | null {
  const leftMs = msUntilQueueTimeout(job, now) - BUSY_HOLD_MS;
  return leftMs >= 1000 ? Math.floor(leftMs / 1000) : null;
}

export function failureCode(job: JobRecord, failure: JobFailure): JobErrorCode {
  switch (failure.kind) {
    case 'queue-timeout':
      return 'QUEUE_TIMEOUT';
    case 'timeout':
      return job.status === 'queued' ? 'QUEUE_TIMEOUT' : 'PROVIDER_TIMEOUT';
    case 'healed':
      return 'HEALED';
    case 'provider-failed':
    case 'provider-refused':
      return 'PROVIDER_ERROR';
    default:
      return 'INTERNAL';
  }
}

function failureMessage(code: JobErrorCode, failure: JobFailure) {
  switch (code) {
    case 'QUEUE_TIMEOUT':
      return 'The queue was too long; your credits were refunded.';
    case 'PROVIDER_TIMEOUT':
      return 'The AI provider took too long; your credits were refunded.';
    case 'PROVIDER_ERROR': {
      // Only the provider's own message is shown, never anything of ours; a long one is cut.
      const reason = failure.kind === 'provider-failed' && failure.reason ? ` (${failure.reason.slice(0, 200)})` : '';
      return `The AI provider could not process this job${reason}; your credits were refunded.`;
    }
    case 'HEALED':
      return 'This job stopped responding and was closed automatically; your credits were refunded.';
    default:
      return 'Something went wrong on our side; your credits were refunded.';
  }
}
