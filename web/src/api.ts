import type { Params, ToolId } from '../../lambdas/domain/catalog';
import type { Job } from '../../lambdas/domain/jobs';
import type { LedgerEntry } from '../../lambdas/domain/ports';

export type { Job, LedgerEntry };

/** An API answer other than 2xx: `{error, message, ...details}` (status 0 = the request never got an answer). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface PresignedUpload {
  slot: string;
  url: string;
  fields: Record<string, string>;
}

/** A big file's upload: one presigned PUT per part (only the parts still missing, when resuming). */
export interface MultipartUpload {
  slot: string;
  multipart: { uploadId: string; partSize: number; partCount: number; parts: { partNumber: number; url: string }[] };
}

export interface UploadRequestBody {
  tool: ToolId;
  params: Params;
  files: { slot: string; contentType: string; size: number }[];
}

export interface Api {
  createUpload(body: UploadRequestBody): Promise<{ jobId: string; uploads: (PresignedUpload | MultipartUpload)[]; expiresAt: string }>;
  /** A resumable upload's stored parts and fresh URLs for the rest (404: not ours; 409 UPLOAD_GONE: start again). */
  uploadParts(jobId: string, slot: string): Promise<MultipartUpload & { stored: { partNumber: number; size: number }[] }>;
  /** Completes a resumable upload once the server has checked its parts (409 PARTS_MISSING lists the missing ones). */
  completeUpload(jobId: string, slot: string): Promise<{ completed: boolean }>;
  activeJob(): Promise<Job | null>;
  /** null while the job does not exist yet (404). */
  job(jobId: string): Promise<Job | null>;
  jobs(limit: number, cursor?: string | null): Promise<{ jobs: Job[]; nextCursor: string | null }>;
  cancel(jobId: string): Promise<Job>;
  releaseQueue(): Promise<{ cancelled: string[] }>;
  credits(): Promise<number>;
  /** The caller's credit ledger, newest first. */
  ledger(limit: number, cursor?: string | null): Promise<{ entries: LedgerEntry[]; nextCursor: string | null }>;
  queue(): Promise<{ capacity: number; running: number; queued: number }>;
  /** The VAPID public key browsers subscribe with (base64url). */
  pushKey(): Promise<string>;
  /** Stores this device's push subscription (`PushSubscription.toJSON()` plus the language), or forgets it. */
  savePush(subscription: PushSubscriptionJSON & { lang: string }): Promise<unknown>;
  forgetPush(endpoint: string): Promise<unknown>;
}

export interface ApiOptions {
  base: string;
  /** A current bearer token (may refresh); null when signed out. */
  token(): Promise<string | null>;
  /** Called on 401: the session is over. */
  onUnauthorized(): void;
}

export async function request<T>(url: string, init: RequestInit = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, { ...init, cache: 'no-store' });
  } catch (error) {
    throw new ApiError(0, 'NETWORK', (error as Error).message);
  }
  const text = await response.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const details = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
    const code = typeof details.error === 'string' ? details.error : response.status >= 500 ? 'SERVER' : `HTTP_${response.status}`;
    const message = typeof details.message === 'string' ? details.message : response.statusText;
    throw new ApiError(response.status, code, message, details);
  }
  return body as T;
}

export function createApi(options: ApiOptions): Api {
  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const token = await options.token();
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await request<T>(`${options.base}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) options.onUnauthorized();
      throw error;
    }
  }

  return {
    createUpload: (body) => call('POST', '/uploads', body),
    activeJob: async () => (await call<{ job: Job | null }>('GET', '/jobs/active')).job,
    job: async (jobId) => {
      try {
        return await call<Job>('GET', `/jobs/${encodeURIComponent(jobId)}`);
      } catch (error) {
        if (error instanceof ApiError && error.status === 404) return null;
        throw error;
      }
    },
    jobs: (limit, cursor) => {
      const query = new URLSearchParams({ limit: String(limit) });
      if (cursor) query.set('cursor', cursor);
      return call('GET', `/jobs?${query}`);
    },
    cancel: (jobId) => call('POST', `/jobs/${encodeURIComponent(jobId)}/cancel`),
    releaseQueue: () => call('POST', '/queue/release'),
    credits: async () => (await call<{ balance: number }>('GET', '/credits')).balance,
    ledger: (limit, cursor) => {
      const query = new URLSearchParams({ limit: String(limit) });
      if (cursor) query.set('cursor', cursor);
      return call('GET', `/credits/ledger?${query}`);
    },
    queue: () => call('GET', '/queue'),
    pushKey: async () => (await call<{ publicKey: string }>('GET', '/push/key')).publicKey,
    savePush: (subscription) => call('PUT', '/push/subscription', subscription),
    forgetPush: (endpoint) => call('DELETE', '/push/subscription', { endpoint }),
    uploadParts: (jobId, slot) => call('GET', `/uploads/${encodeURIComponent(jobId)}/${encodeURIComponent(slot)}/parts`),
    completeUpload: (jobId, slot) => call('POST', `/uploads/${encodeURIComponent(jobId)}/${encodeURIComponent(slot)}/complete`),
  };
}
