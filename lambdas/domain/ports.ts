import type { JobErrorCode } from './errors';
import type { JobRecord, StoredInput, UploadIntent } from './jobs';

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

export interface CreditLedger {
  balance(userId: string): Promise<number>;
  /** The job the user's lock points at, if any. */
  activeJobId(userId: string): Promise<string | null>;
  setBalance(userId: string, balance: number): Promise<number>;
}

export interface FileStore {
  presignUpload(key: string, contentType: string, size: number, expiresInSeconds: number): Promise<{ url: string; fields: Record<string, string> }>;
  /** Size and leading bytes of a stored object, or null if it is gone. */
  inspect(key: string, headBytes: number): Promise<{ bytes: number; head: Uint8Array } | null>;
  presignDownload(key: string): Promise<string>;
}

export interface Clock {
  now(): Date;
}
