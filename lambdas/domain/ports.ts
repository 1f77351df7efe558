import type { OutputRule } from './catalog';
import type { JobErrorCode } from './errors';
import type { JobRecord, StoredInput, UploadIntent } from './jobs';
import type { StoredPart } from './multipart';

/** Data access the domain needs; the DynamoDB adapter implements it. */
export interface JobStore {
  putIntent(intent: UploadIntent, expiresAtEpoch: number): Promise<void>;
  getIntent(jobId: string): Promise<UploadIntent | null>;
  /** Records one stored input; returns every input stored so far for that job. */
  markInputStored(jobId: string, input: StoredInput): Promise<StoredInput[]>;
  /** Atomically: job `queued` with a place in the queue, user lock taken, credits debited. */
  admit(job: JobRecord): Promise<AdmitResult>;
  /** Writes a job that could not be admitted, already terminal and uncharged. No-op if the job exists. */
  putRejected(job: JobRecord): Promise<boolean>;
  getJob(jobId: string): Promise<JobRecord | null>;
  listJobs(userId: string, limit: number, cursor?: string): Promise<{ jobs: JobRecord[]; nextCursor: string | null }>;
  /** 1-based place in the FIFO queue, or null if the job is not waiting. */
  queuePosition(job: JobRecord): Promise<number | null>;
}

export type AdmitResult = { outcome: 'admitted' | 'duplicate' } | { outcome: 'rejected'; code: JobErrorCode };

/**
 * Why a balance changed. Grants: `signup` (once per user), `operator` (`npm run credits -- grant`), `adjustment`
 * (the local stack's set-balance knob). `debit` at admission, `refund` on failure or cancel while queued.
 */
export type LedgerReason = 'signup' | 'operator' | 'adjustment' | 'debit' | 'refund';

/** One balance change, written in the same transaction as the change; `balance` is what it left. */
export interface LedgerEntry {
  at: string;
  delta: number;
  balance: number;
  reason: LedgerReason;
  jobId?: string;
  /** The operator's words for a grant. */
  note?: string;
}

export interface Account {
  balance: number;
  /** The sign-up grant has been given (or the balance was set by hand, which stands in for it). */
  signedUp: boolean;
}

/** Balances and their ledger. Every method that moves a balance writes its ledger entry in the same transaction. */
export interface CreditLedger {
  balance(userId: string): Promise<number>;
  account(userId: string): Promise<Account | null>;
  /** The job the user's lock points at, if any. */
  activeJobId(userId: string): Promise<string | null>;
  /** Adds credits; with `signup` it is the one-time sign-up grant and answers false when it had already been given. */
  grantCredits(userId: string, amount: number, reason: LedgerReason, options?: { note?: string; signup?: boolean }): Promise<boolean>;
  setBalance(userId: string, balance: number): Promise<number>;
  /** Newest first; `cursor` is a `nextCursor` this method returned (anything else: InvalidRequest). */
  ledger(userId: string, limit: number, cursor?: string): Promise<{ entries: LedgerEntry[]; nextCursor: string | null }>;
}

export interface FileStore {
  /** Streams a provider output into `key`; ProviderFailed when its host, type or size breaks the rule. */
  collect(url: string, key: string, rule: OutputRule): Promise<{ contentType: string; bytes: number }>;
  presignUpload(
    key: string,
    contentType: string,
    size: number,
    expiresInSeconds: number,
  ): Promise<{ url: string; fields: Record<string, string> }>;
  /** Size and leading bytes of a stored object, or null if it is gone. */
  inspect(key: string, headBytes: number): Promise<{ bytes: number; head: Uint8Array } | null>;
  /** When an object was stored, or null if it is not (there). */
  storedAt(key: string): Promise<Date | null>;
  /** Bytes `start..end` (inclusive) of a stored object. */
  readRange(key: string, start: number, end: number): Promise<Uint8Array>;
  /** Server-side copy; false if `from` is gone. */
  copy(from: string, to: string): Promise<boolean>;
  /** A GET URL for the object; with `fileName`, browsers save it under that name (Content-Disposition). */
  presignDownload(key: string, fileName?: string): Promise<string>;
}

/** S3 multipart uploads for resumable browser uploads; part URLs are presigned to one part number and length. */
export interface MultipartFiles {
  /** Starts an upload to `key` with its content type pinned; returns the upload id. */
  create(key: string, contentType: string): Promise<string>;
  presignPart(key: string, uploadId: string, partNumber: number, length: number, expiresInSeconds: number): Promise<string>;
  /** The parts S3 holds, or null when the upload no longer exists. */
  listParts(key: string, uploadId: string): Promise<StoredPart[] | null>;
  complete(key: string, uploadId: string, parts: readonly StoredPart[]): Promise<void>;
  abort(key: string, uploadId: string): Promise<void>;
}

export interface Clock {
  now(): Date;
}

/** The slots and the FIFO queue. Every method is a conditional write: concurrent callers are settled by DynamoDB. */
export interface QueueStore {
  /** Slot numbers 1..capacity not held by any job. */
  freeSlots(capacity: number): Promise<number[]>;
  /** The first `limit` waiting jobs, in FIFO order. */
  queueHeads(limit: number): Promise<string[]>;
  /** In one transaction: claim the slot, move the job queued → running, take it off the queue. False if anything changed. */
  grant(job: JobRecord, slot: number, startedAt: string, deadline: string): Promise<boolean>;
  /** Records the token a parked execution waits on; false when the job is no longer in `status`. */
  recordToken(jobId: string, status: 'queued' | 'running', token: string, extra?: Record<string, unknown>): Promise<boolean>;
  /** Notes that Ghostless itself is stopping the running job's task, so its later `failed` outcome is not the provider's. */
  noteTaskCancelled(jobId: string, at: string): Promise<boolean>;
  /** Records the provider task of a running job that has none yet (a task created but never recorded); false otherwise. */
  adoptTask(jobId: string, taskId: string): Promise<boolean>;
  /** Moves a live job to a terminal state in one transaction: slot, queue entry and lock released, refund paid at most once. */
  finalize(job: JobRecord, change: FinalChange): Promise<boolean>;
  counts(): Promise<{ running: number; queued: number }>;
  /** Deletes position-index counters that have read zero for a while; how many it deleted. */
  pruneQueueCounters(now: Date): Promise<number>;
  /**
   * A running job whose task the provider refused for capacity (421/415) goes back to the queue under its admission
   * key (the head: every older job was granted before it), its slot released, its staged inputs kept. False if it changed.
   */
  requeue(job: JobRecord): Promise<boolean>;
  /**
   * Marks a job, parked on `token` and not staged yet, as sent to stage its inputs ahead of its grant; false if it is no
   * longer queued on that token, or was staged or sent before.
   */
  requestStaging(jobId: string, token: string, at: string): Promise<boolean>;
  /** Records what the provider took for a live job's inputs, unless some were recorded already; false otherwise. */
  recordStagedInputs(jobId: string, files: Record<string, string>): Promise<boolean>;
  /** What the provider key can run for Ghostless, learnt from its last 421/415, and until when that holds. */
  providerCapacity(): Promise<{ limit: number; until: string } | null>;
  noteProviderCapacity(limit: number, until: string): Promise<void>;
}

export interface FinalChange {
  status: 'succeeded' | 'failed' | 'cancelled';
  error: { code: JobErrorCode; message: string } | null;
  refund: boolean;
  outputs: JobRecord['outputs'];
  completedAt: string;
}

/** What the sweeper reads beyond the job store: only live things, through the sparse `live` index. */
export interface LiveStore {
  liveJobs(): Promise<JobRecord[]>;
  heldLocks(): Promise<{ userId: string; jobId: string }[]>;
  heldSlots(): Promise<{ slot: number; jobId: string }[]>;
  /** Conditional, at the write, on the holder still being `jobId` and that job not running in `slot`; false otherwise. */
  releaseSlot(slot: number, jobId: string): Promise<boolean>;
  releaseLock(userId: string, jobId: string): Promise<boolean>;
  /** Uploads whose job does not exist yet, with the slots admission has recorded as stored. */
  pendingIntents(): Promise<{ intent: UploadIntent; storedSlots: string[] }[]>;
  /** Stops listing an upload as pending (its job exists, or its window closed with an input missing). */
  settleIntent(jobId: string): Promise<boolean>;
}

/** The job's driver: one Step Functions execution per job, named after it. */
export interface Workflow {
  start(jobId: string): Promise<void>;
  resume(token: string, output: unknown): Promise<void>;
  fail(token: string, error: string, cause: string): Promise<void>;
  stop(jobId: string, cause: string): Promise<void>;
  status(jobId: string): Promise<ExecutionStatus>;
  /** The job ids whose execution is running now, listed in pages (a few calls for thousands of jobs); optional. */
  runningJobIds?(): Promise<Set<string>>;
}

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'MISSING';

/** The AI provider (RunningHub). Errors are thrown as ProviderBusy (retry later) or ProviderFailed (give up). */
export interface Provider {
  /** Puts each input where the provider's workflow can read it; returns what each slot's node takes (a fileName or a URL). */
  stageInputs(inputs: ProviderInput[]): Promise<Record<string, string>>;
  /** Starts the tool's workflow on staged inputs; the provider calls `webhookUrl` when the task ends. */
  createTask(request: ProviderTaskRequest): Promise<{ taskId: string }>;
  /** `running` until the task ends; then its outputs or the provider's reason for failing. */
  outputs(taskId: string): Promise<ProviderOutcome>;
  /** Stops the task (and its billing); a task that already ended is not an error. */
  cancel(taskId: string): Promise<void>;
}

/** One input slot: a short-lived URL the adapter downloads from and re-uploads to the provider. */
export interface ProviderInput {
  slot: string;
  url: string;
  contentType: string;
}

export interface ProviderTaskRequest {
  tool: import('./catalog').ToolId;
  params: import('./catalog').Params;
  /** Slot → what `stageInputs` returned for it. */
  files: Record<string, string>;
  webhookUrl: string;
}

export type ProviderOutcome =
  | { status: 'running' }
  | { status: 'succeeded'; outputs: { fileUrl: string; fileType: string }[] }
  | { status: 'failed'; reason: string };

/**
 * What the browser is told without asking: `job` goes to the job's owner on every state change; `queue` goes to
 * every connected user when jobs leave the FIFO (a grant, a cancel, a timeout) or come back to it (a requeue), named
 * by their queue keys (`createdAt#jobId`), so each client moves its own position without a read per waiting user.
 */
export type LiveEvent = { type: 'job'; job: LiveJob } | { type: 'queue'; left: string[]; joined: string[] };

/**
 * The job as the API shows it, but its outputs without download links: a presigned GET carries its signer's
 * rights, and only the api function may read outputs/. The client reads the job once when it ends.
 */
export type LiveJob = Omit<import('./jobs').Job, 'outputs'> & { outputs: { contentType: string; bytes: number }[] };

/** The push channel (an API Gateway WebSocket API in AWS). Best effort: a lost event is caught by the client's slow poll. */
export interface LiveChannel {
  toUser(userId: string, event: LiveEvent): Promise<void>;
  toEveryone(event: LiveEvent): Promise<void>;
}

/** Open push connections, one item each (expiring on their own), listed per user or all at once. */
export interface ConnectionStore {
  addConnection(userId: string, connectionId: string, expiresAtEpoch: number): Promise<void>;
  removeConnection(userId: string, connectionId: string): Promise<void>;
  /** One user's connections, or every connection when `userId` is undefined. */
  connections(userId?: string): Promise<{ userId: string; connectionId: string }[]>;
}
