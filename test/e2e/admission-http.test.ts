import { afterAll, describe, expect, it } from 'vitest';
import type { Job } from '../../lambdas/domain/jobs';
import { assertInvariants } from '../support/invariants';
import { image, textFile } from '../support/media';
import { startTestStack } from '../support/started-stack';

// A new user's walk through docs/PRODUCT.md's admission rules, over plain HTTP against the whole local stack.
const stack = await startTestStack({ PROVIDER_LATENCY_MS: '30000', MAX_RUNNING: '3' });
afterAll(() => stack.stop());
const { api } = stack;
let n = 0;
const newUser = (balance: number) => api.user(`walk-${++n}-${Date.now()}`, balance);
const png = await image();
const pngUpload = { tool: 'upscale-image', files: [{ slot: 'image', contentType: 'image/png', size: png.length }] };

describe('admission over HTTP', () => {
  it('answers every bad request with a 4xx {error, message} and charges nothing', async () => {
    const user = await newUser(3);
    const post = (body: unknown) => api.call('POST', '/api/uploads', { token: user.token, body });
    const cases: [unknown, number, string][] = [
      ['{"tool": ', 400, 'INVALID_REQUEST'],
      [{ tool: 'paint', files: [] }, 400, 'INVALID_REQUEST'],
      [{ tool: 'upscale-image', files: [{ slot: 'image', contentType: 'image/png', size: -1 }] }, 400, 'INVALID_REQUEST'],
      [{ tool: 'upscale-image', files: [{ slot: 'garment', contentType: 'image/png', size: 10 }] }, 400, 'INVALID_REQUEST'],
      [{ tool: 'upscale-image', files: [{ slot: 'image', contentType: 'image/png', size: 21 * 1024 * 1024 }] }, 413, 'FILE_TOO_LARGE'],
      [{ tool: 'upscale-image', files: [{ slot: 'image', contentType: 'text/plain', size: 10 }] }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
      [{ tool: 'upscale-video', files: [{ slot: 'video', contentType: 'video/mp4', size: 10 }] }, 402, 'INSUFFICIENT_CREDITS'],
    ];
    for (const [body, status, error] of cases) {
      const reply = await post(body);
      expect(reply, JSON.stringify(body)).toMatchObject({ status, body: { error, message: expect.any(String) } });
    }
    expect((await post({ tool: 'upscale-video', files: [{ slot: 'video', contentType: 'video/mp4', size: 10 }] })).body).toMatchObject({
      balance: 3,
      cost: 5,
    });
    expect(await api.call('POST', '/api/uploads', { body: pngUpload })).toMatchObject({ status: 401, body: { error: 'UNAUTHORIZED' } });
    expect(await api.call('POST', '/api/uploads', { token: `${user.token}x`, body: pngUpload })).toMatchObject({ status: 401 });
    expect((await api.call('GET', '/api/credits', { token: user.token })).body).toEqual({ balance: 3 });
    expect((await api.call('GET', '/api/jobs', { token: user.token })).body).toEqual({ jobs: [], nextCursor: null });
  });

  it('creates the job only after the upload, queued and charged, and blocks a second one with 409 ACTIVE_JOB', async () => {
    const user = await newUser(3);
    const presign = await api.call<{ jobId: string; uploads: { url: string; fields: Record<string, string> }[] }>('POST', '/api/uploads', {
      token: user.token,
      body: pngUpload,
    });
    expect(presign.status).toBe(201);
    // Nothing exists, and nothing is charged, before the bytes are stored.
    expect(await api.job(user.token, presign.body.jobId)).toMatchObject({ status: 404, body: { error: 'NOT_FOUND' } });
    expect((await api.call('GET', '/api/jobs/active', { token: user.token })).body).toEqual({ job: null });

    const jobId = await api.submit(user.token, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: png }]);
    const job = await api.waitForJob(user.token, jobId, (j: Job) => j.status === 'running' || j.status === 'queued');
    expect(job).toMatchObject({ jobId, tool: 'upscale-image', creditCost: 1, refunded: false, error: null });
    expect((await api.call('GET', '/api/credits', { token: user.token })).body).toEqual({ balance: 2 });
    expect((await api.call<{ job: Job }>('GET', '/api/jobs/active', { token: user.token })).body.job.jobId).toBe(jobId);

    const second = await api.call('POST', '/api/uploads', { token: user.token, body: pngUpload });
    expect(second).toMatchObject({ status: 409, body: { error: 'ACTIVE_JOB', activeJob: { jobId } } });
    // The abandoned first presign never became a job.
    expect(await api.job(user.token, presign.body.jobId)).toMatchObject({ status: 404 });
    await api.call('POST', `/api/jobs/${jobId}/cancel`, { token: user.token });
  });

  it('fails a text file named .png as INVALID_INPUT, uncharged, and leaves the user free', async () => {
    const user = await newUser(1);
    const jobId = await api.submit(user.token, 'upscale-image', [
      { slot: 'image', contentType: 'image/png', body: textFile('not a png at all') },
    ]);
    expect(await api.waitForJob(user.token, jobId)).toMatchObject({ status: 'failed', error: { code: 'INVALID_INPUT' }, refunded: false });
    expect((await api.call('GET', '/api/credits', { token: user.token })).body).toEqual({ balance: 1 });
    expect((await api.call('GET', '/api/jobs/active', { token: user.token })).body).toEqual({ job: null });
  });

  it('refuses a forged key or a body larger than declared at the S3 door, so no job appears', async () => {
    const user = await newUser(2);
    const presign = await api.call<{ jobId: string; uploads: { url: string; fields: Record<string, string> }[] }>('POST', '/api/uploads', {
      token: user.token,
      body: pngUpload,
    });
    const upload = presign.body.uploads[0] as { url: string; fields: Record<string, string> };
    const send = async (fields: Record<string, string>, body: Uint8Array<ArrayBuffer>) => {
      const form = new FormData();
      for (const [name, value] of Object.entries(fields)) form.append(name, value);
      form.append('file', new Blob([body], { type: 'image/png' }));
      return (await fetch(upload.url, { method: 'POST', body: form })).status;
    };
    expect(await send({ ...upload.fields, key: `inputs/${crypto.randomUUID()}/image` }, png)).toBe(403);
    const bigger = new Uint8Array(png.length + 100);
    bigger.set(png);
    expect(await send(upload.fields, bigger)).toBe(400);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await api.job(user.token, presign.body.jobId)).toMatchObject({ status: 404 });
    expect((await api.call('GET', '/api/credits', { token: user.token })).body).toEqual({ balance: 2 });
    await assertInvariants(stack);
  });
});
