import { type Limits, TOOLS } from './catalog';
import type { CreditsService } from './credits';
import { ActiveJob, InsufficientCredits, type JobErrorCode } from './errors';
import { checkpoint } from './faults';
import { inspectInput, SNIFF_BYTES } from './inspection';
import { admittedKey, inputKey, isTerminal, type JobRecord, parseInputKey, type StoredInput, type UploadIntent } from './jobs';
import { type LiveUpdates, NO_LIVE_UPDATES } from './live-updates';
import { RESUMABLE_WINDOW_SECONDS } from './multipart';
import type { Clock, CreditLedger, FileStore, JobStore, Workflow } from './ports';
import type { ResumableUploads } from './resumable-upload';
import { parseUploadRequest } from './upload-request';
import type { JobViews } from './views';

export interface AdmissionDeps {
  store: JobStore;
  ledger: CreditLedger;
  /** The balance, with the sign-up grant on a user's first request. */
  credits: Pick<CreditsService, 'balance'>;
  files: FileStore;
  views: JobViews;
  clock: Clock;
  sizeLimits: Limits;
  jobLimits: JobRecord['limits'];
  workflow: Workflow;
  uploadTtlSeconds: number;
  /** Big files go up in parts (absent: every file is one POST). */
  resumable?: Pick<ResumableUploads, 'isLarge' | 'open' | 'presign' | 'allParts'>;
  newId(): string;
  log(message: string, fields: Record<string, unknown>): void;
  /** Tells the owner their job exists (queued with its position, or failed), once it is started. */
  live?: LiveUpdates;
}

/** A presigned POST: the browser sends `fields` and then the file to `url` (small files). */
export interface PostUpload {
  slot: string;
  url: string;
  fields: Record<string, string>;
}

export type StoredOutcome = 'ignored' | 'waiting' | 'admitted' | 'duplicate' | 'rejected';

/** Upload first, job after: presign the inputs now, create the job only when S3 says they are all stored. */
export function admission(deps: AdmissionDeps) {
  const { store, ledger, files, clock } = deps;
  const live = deps.live ?? NO_LIVE_UPDATES;

  async function requestUpload(userId: string, body: unknown) {
    const request = parseUploadRequest(body, deps.sizeLimits);
    const activeJobId = await ledger.activeJobId(userId);
    const activeJob = activeJobId ? await store.getJob(activeJobId) : null;
    if (activeJob && !isTerminal(activeJob.status)) throw new ActiveJob(await deps.views.toJob(activeJob));
    const balance = await deps.credits.balance(userId);
    if (balance < request.cost) throw new InsufficientCredits(balance, request.cost);

    const jobId = deps.newId();
    const resumable = deps.resumable;
    const plans = new Map(
      await Promise.all(
        request.files
          .filter((f) => resumable?.isLarge(f.size))
          .map(async (f) => [f.slot, await resumable?.open(inputKey(jobId, f.slot), f.contentType, f.size)] as const),
      ),
    );
    // A resumable upload may take until S3's lifecycle aborts it; a single POST has the short window.
    const window = plans.size > 0 ? RESUMABLE_WINDOW_SECONDS : deps.uploadTtlSeconds;
    const expiresAt = new Date(clock.now().getTime() + window * 1000);
    const intent: UploadIntent = {
      jobId,
      userId,
      tool: request.tool.id,
      params: request.params,
      creditCost: request.cost,
      files: Object.fromEntries(
        request.files.map((f) => [
          f.slot,
          { key: inputKey(jobId, f.slot), contentType: f.contentType, size: f.size, multipart: plans.get(f.slot) },
        ]),
      ),
      expiresAt: expiresAt.toISOString(),
    };
    // The intent outlives the upload window by a day so late S3 events still find it.
    await store.putIntent(intent, Math.floor(expiresAt.getTime() / 1000) + 86_400);
    const uploads = await Promise.all(
      request.files.map(async (f) => {
        const plan = plans.get(f.slot);
        const file = intent.files[f.slot] as UploadIntent['files'][string];
        if (plan && resumable)
          return { slot: f.slot, multipart: { ...plan, parts: await resumable.presign(file, plan, resumable.allParts(plan)) } };
        return { slot: f.slot, ...(await files.presignUpload(file.key, f.contentType, f.size, deps.uploadTtlSeconds)) };
      }),
    );
    return { jobId, uploads, expiresAt: intent.expiresAt };
  }

  /** Handles one S3 ObjectCreated record. Safe under duplicate and reordered events. */
  async function onInputStored(key: string): Promise<StoredOutcome> {
    const parsed = parseInputKey(key);
    const intent = parsed ? await store.getIntent(parsed.jobId) : null;
    const declared = parsed && intent ? intent.files[parsed.slot] : undefined;
    if (!parsed || !intent || !declared) {
      deps.log('object does not belong to an issued upload', { key });
      return 'ignored';
    }
    const existing = await store.getJob(intent.jobId);
    if (existing) {
      // A retried event after a crash between admit and start: starting again is idempotent.
      if (!isTerminal(existing.status)) await deps.workflow.start(existing.jobId);
      return 'duplicate';
    }

    // The upload form stays valid after admission: whatever is in `key` now may change later. So this
    // event's bytes are copied to a key of their own that no form points at, and that copy is what gets
    // inspected, charged for and sent to the provider. A later upload to `key` cannot reach the job.
    const admitted = admittedKey(intent.jobId, parsed.slot, deps.newId());
    if (!(await files.copy(key, admitted))) return 'ignored';
    const object = await files.inspect(admitted, SNIFF_BYTES);
    if (!object) return 'ignored';
    const read = (start: number, end: number) => files.readRange(admitted, start, end);
    const problem = await inspectInput(declared, { ...object, read }, TOOLS[intent.tool].limits);
    if (problem) return reject(intent, [], 'INVALID_INPUT', problem);

    const input: StoredInput = { slot: parsed.slot, key: admitted, contentType: declared.contentType, bytes: object.bytes };
    const stored = await store.markInputStored(intent.jobId, input);
    if (Object.keys(intent.files).some((slot) => !stored.some((s) => s.slot === slot))) return 'waiting';

    const inputs = Object.keys(intent.files).map((slot) => stored.find((s) => s.slot === slot) as StoredInput);
    const job = newJob(intent, inputs, 'queued');
    await checkpoint('admit:before-commit', job.jobId);
    const result = await store.admit(job);
    if (result.outcome !== 'rejected') {
      await checkpoint('admit:after-commit', job.jobId);
      await deps.workflow.start(job.jobId);
      if (result.outcome === 'admitted') await live.jobChanged(job);
      return result.outcome;
    }
    const message =
      result.code === 'USER_BUSY'
        ? 'You already had a job in progress when this upload finished.'
        : `This job costs ${intent.creditCost} credits and your balance was too low when the upload finished.`;
    return reject(intent, inputs, result.code, message);
  }

  async function reject(intent: UploadIntent, inputs: StoredInput[], code: JobErrorCode, message: string) {
    const job = { ...newJob(intent, inputs, 'failed'), error: { code, message } };
    job.completedAt = job.createdAt;
    if (!(await store.putRejected(job))) return 'duplicate';
    await live.jobChanged(job);
    return 'rejected';
  }

  function newJob(intent: UploadIntent, inputs: StoredInput[], status: 'queued' | 'failed'): JobRecord {
    return {
      jobId: intent.jobId,
      userId: intent.userId,
      tool: intent.tool,
      status,
      params: intent.params,
      inputs,
      creditCost: intent.creditCost,
      charged: status === 'queued',
      refunded: false,
      error: null,
      outputs: [],
      createdAt: clock.now().toISOString(),
      startedAt: null,
      completedAt: null,
      limits: deps.jobLimits,
    };
  }

  return { requestUpload, onInputStored };
}
