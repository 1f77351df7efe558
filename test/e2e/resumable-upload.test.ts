import { HeadObjectCommand, ListPartsCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import type { Job } from '../../lambdas/domain/jobs';
import { assertInvariants, snapshot } from '../support/invariants';
import { video } from '../support/media';
import { type PartUrl, resumableClient } from '../support/resumable-client';
import { startTestStack } from '../support/started-stack';

const MiB = 1024 * 1024;
// Files above 6 MiB go up in 5 MiB parts (S3's smallest): the ~13 MB clip is three parts.
const stack = await startTestStack({
  PROVIDER_LATENCY_MS: '30000',
  MULTIPART_THRESHOLD_BYTES: String(6 * MiB),
  MULTIPART_PART_BYTES: String(5 * MiB),
});
afterAll(() => stack.stop());
const { api } = stack;
const clip = await video({ width: 640, height: 480, seconds: 6, noisy: true });
const admin = new S3Client({
  endpoint: stack.s3Endpoint,
  forcePathStyle: true,
  region: 'us-east-1',
  credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
});
afterAll(() => admin.destroy());
let n = 0;
const newUser = () => api.user(`resumable-${++n}-${Date.now()}`, 10);
const key = (jobId: string) => `inputs/${jobId}/video`;

async function start() {
  const user = await newUser();
  const client = resumableClient(api.call, user.token);
  const answer = await client.request(clip.length);
  expect(answer.status).toBe(201);
  const entry = answer.body.uploads[0];
  const multipart = entry?.multipart;
  if (!multipart) throw new Error(`expected a multipart upload: ${JSON.stringify(answer.body)}`);
  return { user, client, jobId: answer.body.jobId, multipart };
}

describe('resumable uploads over the local stack', () => {
  it('cuts a big file into presigned parts, completes it after the server checks them, and admits the job once', async () => {
    const { user, client, jobId, multipart } = await start();
    expect(clip.length).toBeGreaterThan(10 * MiB);
    expect(multipart).toMatchObject({ partSize: 5 * MiB, partCount: Math.ceil(clip.length / (5 * MiB)) });
    expect(multipart.parts.map((p) => p.partNumber)).toEqual([1, 2, 3]);
    const sent = await Promise.all(multipart.parts.map((p) => client.putPart(p.url, clip, p.partNumber, multipart.partSize)));
    expect(sent.map((s) => s.status)).toEqual([200, 200, 200]);
    expect(sent.every((s) => /^"[0-9a-f]{32}"$/.test(s.etag ?? ''))).toBe(true);
    // Upload first: every part stored, still no job and no charge until the upload is completed.
    expect((await api.job(user.token, jobId)).status).toBe(404);
    expect((await api.call('GET', '/api/credits', { token: user.token })).body).toEqual({ balance: 10 });

    expect(await client.complete(jobId)).toMatchObject({ status: 200, body: { jobId, slot: 'video', completed: true } });
    const job = await api.waitForJob(user.token, jobId, (j: Job) => j.status === 'queued' || j.status === 'running');
    expect(job).toMatchObject({ tool: 'upscale-video', creditCost: 5 });
    const stored = await admin.send(new HeadObjectCommand({ Bucket: stack.bucketName, Key: key(jobId) }));
    expect(stored.ContentLength).toBe(clip.length);
    // A retried complete (its first answer lost) changes nothing.
    expect(await client.complete(jobId)).toMatchObject({ status: 200, body: { completed: true } });
    expect((await api.call('GET', '/api/credits', { token: user.token })).body).toEqual({ balance: 5 });
    expect((await snapshot(stack)).jobs.filter((j) => j.jobId === jobId)).toHaveLength(1);
    // The invariants are checked at rest (a job granted while the checker reads the queue has no position any more):
    // cancelled rather than run, the video's upscale is not what this file tests.
    await api.call('POST', `/api/jobs/${jobId}/cancel`, { token: user.token });
    await api.waitForJob(user.token, jobId);
    await assertInvariants(stack);
  });

  it('refuses to complete parts that do not add up to the declared size, aborts the upload and creates nothing', async () => {
    const { user, client, jobId, multipart } = await start();
    // Parts stored behind the gateway's back (the part URLs pin each length): the last one is 1,000 bytes too long.
    const last = clip.length - 2 * multipart.partSize;
    for (const [partNumber, length] of [
      [1, multipart.partSize],
      [2, multipart.partSize],
      [3, last + 1000],
    ] as const) {
      await admin.send(
        new UploadPartCommand({
          Bucket: stack.bucketName,
          Key: key(jobId),
          UploadId: multipart.uploadId,
          PartNumber: partNumber,
          Body: new Uint8Array(length),
        }),
      );
    }
    const refused = await client.complete(jobId);
    expect(refused).toMatchObject({ status: 400, body: { error: 'SIZE_MISMATCH', message: expect.stringContaining('Part 3 has') } });
    await expect(
      admin.send(new ListPartsCommand({ Bucket: stack.bucketName, Key: key(jobId), UploadId: multipart.uploadId })),
    ).rejects.toMatchObject({
      name: 'NoSuchUpload',
    });
    await expect(admin.send(new HeadObjectCommand({ Bucket: stack.bucketName, Key: key(jobId) }))).rejects.toMatchObject({
      name: 'NotFound',
    });
    expect((await api.job(user.token, jobId)).status).toBe(404);
    expect((await api.call('GET', '/api/credits', { token: user.token })).body).toEqual({ balance: 10 });
    expect(await client.complete(jobId)).toMatchObject({ status: 409, body: { error: 'UPLOAD_GONE' } });
    await assertInvariants(stack);
  });

  it('refuses a part URL whose part number, upload id or length was changed, with S3 XML errors', async () => {
    const { client, jobId, multipart } = await start();
    const [first, second] = multipart.parts as unknown as [PartUrl, PartUrl];
    const cases = [
      ['partNumber', first.url.replace('partNumber=1', 'partNumber=3'), 1],
      ['uploadId', first.url.replace(/uploadId=[^&]+/, 'uploadId=forged'), 1],
      ['signature', second.url.replace(/X-Amz-Signature=([0-9a-f])/, (_, c) => `X-Amz-Signature=${c === 'a' ? 'b' : 'a'}`), 2],
    ] as const;
    for (const [what, url, partNumber] of cases) {
      const reply = await client.putPart(url, clip, partNumber, multipart.partSize);
      expect(reply.status, what).toBe(403);
      expect(reply.text, what).toContain('<Code>SignatureDoesNotMatch</Code>');
    }
    // The URL of part 1 with the bytes of a shorter body: content-length is signed, as S3 checks it.
    const short = await fetch(first.url, { method: 'PUT', body: clip.slice(0, 1000) });
    expect(short.status).toBe(403);
    expect(await short.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
    const noQuery = await fetch(first.url.split('?')[0] as string, { method: 'PUT', body: clip.slice(0, 10) });
    expect(noQuery.status).toBe(405);
    const listed = await admin.send(new ListPartsCommand({ Bucket: stack.bucketName, Key: key(jobId), UploadId: multipart.uploadId }));
    expect(listed.Parts ?? []).toEqual([]);
  });

  it('lists the stored parts for a resuming client, which sends only the missing one and completes', async () => {
    const { user, client, jobId, multipart } = await start();
    const [p1, , p3] = multipart.parts as unknown as [PartUrl, PartUrl, PartUrl];
    expect((await client.putPart(p1.url, clip, 1, multipart.partSize)).status).toBe(200);
    expect((await client.putPart(p3.url, clip, 3, multipart.partSize)).status).toBe(200);
    expect(await client.complete(jobId)).toMatchObject({ status: 409, body: { error: 'PARTS_MISSING', missing: [2] } });

    const resumed = await client.parts(jobId);
    expect(resumed.status).toBe(200);
    expect(resumed.body.stored.map((p) => p.partNumber)).toEqual([1, 3]);
    expect(resumed.body.multipart.parts.map((p) => p.partNumber)).toEqual([2]);
    const [missing] = resumed.body.multipart.parts as unknown as [PartUrl];
    const resent = await client.putPart(missing.url, clip, missing.partNumber, multipart.partSize);
    expect(resent).toMatchObject({ status: 200, bytes: multipart.partSize });
    expect(await client.complete(jobId)).toMatchObject({ status: 200 });
    await api.waitForJob(user.token, jobId, (j: Job) => j.status === 'queued' || j.status === 'running');
    const stored = await admin.send(new HeadObjectCommand({ Bucket: stack.bucketName, Key: key(jobId) }));
    expect(stored.ContentLength).toBe(clip.length);
    await api.call('POST', `/api/jobs/${jobId}/cancel`, { token: user.token });
    await api.waitForJob(user.token, jobId);
    await assertInvariants(stack);
  });

  it("answers 404 for someone else's upload, an unknown job, or a slot the upload does not have", async () => {
    const { jobId } = await start();
    const stranger = await newUser();
    const client = resumableClient(api.call, stranger.token);
    expect(await client.parts(jobId)).toMatchObject({ status: 404, body: { error: 'NOT_FOUND' } });
    expect(await client.complete(jobId)).toMatchObject({ status: 404, body: { error: 'NOT_FOUND' } });
    expect(await client.complete('00000000-0000-4000-8000-000000000000')).toMatchObject({ status: 404 });
    expect(await api.call('POST', `/api/uploads/${jobId}/image/complete`, { token: stranger.token })).toMatchObject({ status: 404 });
    expect(await api.call('POST', `/api/uploads/${jobId}/video/complete`)).toMatchObject({ status: 401 });
  });
});
