import type { Job } from '../lambdas/domain/jobs';

export interface Reply<T = Record<string, unknown>> {
  status: number;
  body: T;
}

export interface LocalFile {
  slot: string;
  contentType: string;
  body: Uint8Array<ArrayBuffer>;
}

/** Talks to a running local stack over plain HTTP, as the SPA or a curl user would. */
export function apiClient(baseUrl: string) {
  async function call<T = Record<string, unknown>>(
    method: string,
    path: string,
    options: { token?: string; body?: unknown } = {},
  ): Promise<Reply<T>> {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as T };
  }

  /** A signed-in user with a balance, through the local-only endpoints. */
  async function user(userId: string, balance: number) {
    const { body } = await call<{ token: string }>('POST', '/api/local/token', { body: { userId } });
    await call('POST', '/api/local/credits', { body: { userId, balance } });
    return { userId, token: body.token };
  }

  /** Presigns and uploads every file with a browser-style multipart POST; the S3 event then creates the job. */
  async function submit(token: string, tool: string, files: LocalFile[], params?: Record<string, unknown>) {
    const presign = await call<{ jobId: string; uploads: { slot: string; url: string; fields: Record<string, string> }[] }>(
      'POST',
      '/api/uploads',
      {
        token,
        body: { tool, params, files: files.map((f) => ({ slot: f.slot, contentType: f.contentType, size: f.body.length })) },
      },
    );
    if (presign.status !== 201) throw new Error(`presign failed: ${presign.status} ${JSON.stringify(presign.body)}`);
    await Promise.all(
      presign.body.uploads.map(async (upload) => {
        const file = files.find((f) => f.slot === upload.slot) as LocalFile;
        const form = new FormData();
        for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
        form.append('file', new Blob([file.body], { type: file.contentType }));
        const response = await fetch(upload.url, { method: 'POST', body: form });
        if (!response.ok) throw new Error(`upload failed: ${response.status} ${await response.text()}`);
      }),
    );
    return presign.body.jobId;
  }

  const job = (token: string, jobId: string) => call<Job>('GET', `/api/jobs/${jobId}`, { token });

  /** Polls a job until `done` holds (default: it exists and is terminal). */
  async function waitForJob(
    token: string,
    jobId: string,
    done = (j: Job) => ['succeeded', 'failed', 'cancelled'].includes(j.status),
    timeoutMs = 20_000,
  ) {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const reply = await job(token, jobId);
      if (reply.status === 200 && done(reply.body)) return reply.body;
      if (Date.now() > until) throw new Error(`job ${jobId} did not get there in time: ${JSON.stringify(reply.body)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  return { call, user, submit, job, waitForJob };
}
