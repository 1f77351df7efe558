import { JobFinished, ProviderBusy, ProviderFailed, ProviderUnavailable } from './errors';
import { isTerminal, type JobRecord, msUntilQueueTimeout } from './jobs';
import type { Clock, FileStore, JobStore, Provider, QueueStore } from './ports';

export interface StagingDeps {
  store: JobStore & QueueStore;
  files: FileStore;
  provider: Provider;
  clock: Clock;
  log(message: string, fields: Record<string, unknown>): void;
}

/** Each input as a short-lived GET URL of its admitted copy: what the provider adapter reads it from. */
export function presignInputs(files: FileStore, job: JobRecord) {
  return Promise.all(
    job.inputs.map(async (input) => ({ slot: input.slot, contentType: input.contentType, url: await files.presignDownload(input.key) })),
  );
}

/** Errors that mean the provider did not take the inputs now: the run stages them, as it would have anyway. */
const PROVIDER_REFUSALS = [ProviderBusy, ProviderUnavailable, ProviderFailed];

/**
 * StageInputs: the next job in line, every slot taken, puts its inputs at the provider while it waits (the queue
 * woke it for this, see `requestStaging` in queue.ts), so that its hand-off is the create alone. Inputs are staged
 * once per job: RunOnProvider and every retry reuse what is recorded here.
 */
export function inputStaging({ store, files, provider, clock, log }: StagingDeps) {
  /** Returns how long the job may still wait in the queue: WaitForSlot's timeout when the execution parks again. */
  async function stageAhead(jobId: string): Promise<{ queueTimeoutSeconds: number }> {
    const job = await store.getJob(jobId);
    if (!job || isTerminal(job.status)) throw new JobFinished();
    if (!job.providerFiles) {
      try {
        const inputs = await presignInputs(files, job);
        const staged = await provider.stageInputs(inputs);
        // An input too big to upload goes as its URL, which must still be valid when the task starts: the run
        // presigns it afresh. Only uploads are kept ahead.
        const urls = new Set(inputs.map((input) => input.url));
        if (Object.values(staged).some((value) => urls.has(value))) log('inputs go by URL: the run stages them', { jobId });
        else if (!(await store.recordStagedInputs(jobId, staged))) log('staged inputs not recorded: the job changed', { jobId });
      } catch (error) {
        if (!PROVIDER_REFUSALS.some((refusal) => error instanceof refusal)) throw error;
        log('staging ahead refused by the provider: the run stages the inputs', { jobId, error: (error as Error).message });
      }
    }
    // Granted meanwhile: WaitForSlot resumes it at once, and no queue timeout may cut that short.
    const now = await store.getJob(jobId);
    if (now?.status === 'running') return { queueTimeoutSeconds: job.limits.queueSeconds };
    // At least 1 s: a job past its timeout parks for a second and ends QUEUE_TIMEOUT, as it would have in WaitForSlot.
    return { queueTimeoutSeconds: Math.max(1, Math.floor(msUntilQueueTimeout(job, clock.now()) / 1000)) };
  }

  return { stageAhead };
}
