import type { Params, ToolId } from './catalog';
import type { JobErrorCode } from './errors';
import type { MultipartPlan } from './multipart';

export type JobStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
const TERMINAL: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];
export const isTerminal = (status: JobStatus) => TERMINAL.includes(status);
/** A job's place in the FIFO: admission time first, the job id breaks ties. Clients compare the same keys. */
export const queueKeyOf = (job: { createdAt: string; jobId: string }) => `${job.createdAt}#${job.jobId}`;
/** Milliseconds until a job's queue timeout, counted from its admission: waiting again does not restart it. */
export const msUntilQueueTimeout = (job: Pick<JobRecord, 'createdAt' | 'limits'>, now: Date) =>
  Date.parse(job.createdAt) + job.limits.queueSeconds * 1000 - now.getTime();

export interface StoredInput {
  slot: string;
  key: string;
  contentType: string;
  bytes: number;
}

interface StoredOutput {
  key: string;
  contentType: string;
  bytes: number;
}

/** A job as the table holds it. */
export interface JobRecord {
  jobId: string;
  userId: string;
  tool: ToolId;
  status: JobStatus;
  params: Params;
  inputs: StoredInput[];
  creditCost: number;
  /** True once the credits were debited; a refund is only ever paid against a debit. */
  charged: boolean;
  refunded: boolean;
  error: { code: JobErrorCode; message: string } | null;
  outputs: StoredOutput[];
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  /** Limits the job's execution enforces, fixed at admission. */
  limits: { queueSeconds: number; runSeconds: number };
  /** Running jobs: the slot they hold and when their driver must have finished. */
  slot?: number;
  deadline?: string;
  /** Task tokens of the parked WaitForSlot and RunOnProvider states. */
  waitToken?: string;
  runToken?: string;
  providerTaskId?: string;
  /** SHA-256 of the per-task secret the provider's webhook must present; recorded before the task is created. */
  callbackSecretHash?: string;
  /** When Ghostless cancelled the provider task: a failed outcome after that is ours, not the provider's. */
  providerCancelledAt?: string;
  /** When a create was sent without its task id recorded yet: a task may exist that only its webhook can name. */
  creatingAt?: string;
  /** What each input slot's node takes at the provider (uploaded fileName or URL): inputs are staged once per job. */
  providerFiles?: Record<string, string>;
  /** When the job, next in line with every slot taken, was sent to stage its inputs ahead of its grant (once per job). */
  stageRequestedAt?: string;
}

/** A job as the API shows it (docs/PRODUCT.md, `Job`). */
export interface Job {
  jobId: string;
  tool: ToolId;
  status: JobStatus;
  position: number | null;
  params: Params;
  createdAt: string;
  startedAt: string | null;
  completedAt: string | null;
  creditCost: number;
  refunded: boolean;
  error: { code: JobErrorCode; message: string } | null;
  outputs: { url: string; contentType: string; bytes: number }[];
}

/** What `POST /api/uploads` promised: kept server-side so the S3 event never trusts the client. */
export interface UploadIntent {
  jobId: string;
  userId: string;
  tool: ToolId;
  params: Params;
  creditCost: number;
  /** `multipart`: the file goes up in parts (resumable); its upload id and how it is cut. */
  files: Record<string, { key: string; contentType: string; size: number; multipart?: MultipartPlan }>;
  expiresAt: string;
}

/** Job ids are the UUIDs admission issues; anything else in a path or cursor is a malformed request. */
export const isJobId = (value: unknown): value is string =>
  typeof value === 'string' && /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(value);

export const inputKey = (jobId: string, slot: string) => `inputs/${jobId}/${slot}`;
/**
 * Where admission copies an input before inspecting it: no upload form points here, so it cannot change
 * afterwards. One key per copy, so two events for the same slot never inspect each other's bytes.
 */
export const ADMITTED_PREFIX = 'admitted/';
export const admittedKey = (jobId: string, slot: string, copyId: string) => `${ADMITTED_PREFIX}${jobId}/${slot}/${copyId}`;
export const outputKey = (jobId: string, index: number) => `outputs/${jobId}/${index}`;

/** `inputs/<jobId>/<slot>` → its parts, or null for any other key. */
export function parseInputKey(key: string): { jobId: string; slot: string } | null {
  const match = /^inputs\/([0-9a-f-]{36})\/([a-z]+)$/.exec(key);
  return match ? { jobId: match[1] as string, slot: match[2] as string } : null;
}
