import { describe, expect, it } from 'vitest';
import { InvalidRequest, NotFound, PartsMissing, UploadGone, UploadSizeMismatch } from '../../lambdas/domain/errors';
import { inputKey, type JobRecord } from '../../lambdas/domain/jobs';
import { domainSystem } from '../support/domain-system';

const MiB = 1024 * 1024;
/** Parts of 5 MiB above 16 MiB: a 12 MiB + 7 file would be one POST, so the tests use 22 MiB + 7 (five parts). */
const multipart = { thresholdBytes: 16 * MiB, partBytes: 5 * MiB };
const SIZE = 22 * MiB + 7;
const LAST = 2 * MiB + 7;

/** A user with credits who asked to upload a SIZE-byte video: the job id, its upload id and the system. */
async function openedUpload(size = SIZE) {
  const system = domainSystem({ multipart });
  await system.store.seedUser('ana', 10);
  const answer = await system.admission.requestUpload('ana', {
    tool: 'upscale-video',
    files: [{ slot: 'video', contentType: 'video/mp4', size }],
  });
  return { system, answer, jobId: answer.jobId, uploadId: 'upload-1', key: inputKey(answer.jobId, 'video') };
}

describe('opening a resumable upload', () => {
  it('opens a multipart upload for a file above the threshold, with one exact-length URL per part', async () => {
    // Act
    const { system, answer, key } = await openedUpload();

    // Assess
    expect(system.multipart.uploads.get('upload-1')).toMatchObject({ key, contentType: 'video/mp4' });
    expect(answer.uploads).toEqual([
      {
        slot: 'video',
        multipart: {
          uploadId: 'upload-1',
          partSize: 5 * MiB,
          partCount: 5,
          parts: [1, 2, 3, 4, 5].map((partNumber) => ({ partNumber, url: expect.stringContaining(`partNumber=${partNumber}&`) })),
        },
      },
    ]);
    expect(system.multipart.presigned.map((p) => [p.key, p.uploadId, p.partNumber, p.length, p.expiresInSeconds])).toEqual([
      [key, 'upload-1', 1, 5 * MiB, 3600],
      [key, 'upload-1', 2, 5 * MiB, 3600],
      [key, 'upload-1', 3, 5 * MiB, 3600],
      [key, 'upload-1', 4, 5 * MiB, 3600],
      [key, 'upload-1', 5, LAST, 3600],
    ]);
  });

  it('keeps the plan in the intent and gives the upload a day, not the single-POST window', async () => {
    // Act
    const { system, answer, jobId } = await openedUpload();

    // Assess
    expect(answer.expiresAt).toBe('2026-01-02T00:00:00.000Z');
    expect((await system.store.getIntent(jobId))?.files.video).toEqual({
      key: inputKey(jobId, 'video'),
      contentType: 'video/mp4',
      size: SIZE,
      multipart: { uploadId: 'upload-1', partSize: 5 * MiB, partCount: 5 },
    });
  });

  it('sends a file of exactly the threshold in one POST', async () => {
    // Act
    const { system, answer } = await openedUpload(16 * MiB);

    // Assess
    expect(system.multipart.uploads.size).toBe(0);
    expect(answer.uploads[0]).toMatchObject({ slot: 'video', url: 'memory://bucket' });
    expect(answer.expiresAt).toBe('2026-01-01T00:15:00.000Z');
  });

  it('tells a large file from a small one by the threshold alone', () => {
    // Prepare
    const { resumable } = domainSystem({ multipart });

    // Act
    const verdicts = [16 * MiB - 1, 16 * MiB, 16 * MiB + 1].map((size) => resumable.isLarge(size));

    // Assess
    expect(verdicts).toEqual([false, false, true]);
    expect(resumable.allParts({ uploadId: 'u', partSize: 5, partCount: 3 })).toEqual([1, 2, 3]);
  });
});

describe('resuming an upload', () => {
  it('lists the parts stored at their right length and presigns the rest again', async () => {
    // Prepare
    const { system, jobId, uploadId } = await openedUpload();
    system.multipart.storePart(uploadId, 1, 5 * MiB);
    system.multipart.storePart(uploadId, 3, 5 * MiB - 1);
    system.multipart.storePart(uploadId, 5, LAST);
    system.multipart.presigned.length = 0;

    // Act
    const resumed = await system.resumable.resume('ana', jobId, 'video');

    // Assess
    expect(resumed).toEqual({
      jobId,
      slot: 'video',
      multipart: {
        uploadId,
        partSize: 5 * MiB,
        partCount: 5,
        parts: [2, 3, 4].map((partNumber) => ({ partNumber, url: expect.stringContaining(`partNumber=${partNumber}&`) })),
      },
      stored: [
        { partNumber: 1, size: 5 * MiB },
        { partNumber: 5, size: LAST },
      ],
    });
    expect(system.multipart.presigned.map((p) => [p.partNumber, p.length])).toEqual([
      [2, 5 * MiB],
      [3, 5 * MiB],
      [4, 5 * MiB],
    ]);
  });

  it('presigns nothing once every part is stored', async () => {
    // Prepare
    const { system, jobId, uploadId } = await openedUpload();
    for (const n of [1, 2, 3, 4]) system.multipart.storePart(uploadId, n, 5 * MiB);
    system.multipart.storePart(uploadId, 5, LAST);

    // Act
    const resumed = await system.resumable.resume('ana', jobId, 'video');

    // Assess
    expect(resumed.multipart.parts).toEqual([]);
    expect(resumed.stored.map((p) => p.partNumber)).toEqual([1, 2, 3, 4, 5]);
  });

  it('answers 404 for another user’s job, an unknown job and an undeclared slot', async () => {
    // Prepare
    const { system, jobId } = await openedUpload();

    // Act
    const attempts = [
      system.resumable.resume('bea', jobId, 'video'),
      system.resumable.resume('ana', system.newId(), 'video'),
      system.resumable.resume('ana', jobId, 'image'),
      system.resumable.resume('ana', jobId, 'toString'),
      system.resumable.complete('bea', jobId, 'video'),
    ];

    // Assess
    for (const attempt of attempts) await expect(attempt).rejects.toBeInstanceOf(NotFound);
  });

  it('refuses to resume a slot sent in one POST, naming it', async () => {
    // Prepare
    const { system, jobId } = await openedUpload(MiB);

    // Act
    const attempt = system.resumable.resume('ana', jobId, 'video');

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(InvalidRequest);
    await expect(attempt).rejects.toMatchObject({ message: '"video" is uploaded in one request; it has no parts.' });
  });

  it('says an upload S3 no longer holds is gone', async () => {
    // Prepare
    const { system, jobId, key, uploadId } = await openedUpload();
    await system.multipart.abort(key, uploadId);

    // Act
    const attempt = system.resumable.resume('ana', jobId, 'video');

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(UploadGone);
    await expect(attempt).rejects.toMatchObject({ code: 'UPLOAD_GONE', status: 409 });
  });
});

describe('completing an upload', () => {
  it('completes with the parts S3 lists once they add up to the declared file', async () => {
    // Prepare
    const { system, jobId, key, uploadId } = await openedUpload();
    for (const n of [4, 2, 1, 3]) system.multipart.storePart(uploadId, n, 5 * MiB);
    system.multipart.storePart(uploadId, 5, LAST);

    // Act
    const answer = await system.resumable.complete('ana', jobId, 'video');

    // Assess
    expect(answer).toEqual({ jobId, slot: 'video', completed: true });
    expect(system.multipart.completed).toEqual([
      {
        key,
        uploadId,
        parts: [1, 2, 3, 4, 5].map((n) => ({
          partNumber: n,
          size: n === 5 ? LAST : 5 * MiB,
          etag: `"etag-${n}-${n === 5 ? LAST : 5 * MiB}"`,
        })),
      },
    ]);
    expect(system.multipart.aborted).toEqual([]);
  });

  it('names the parts still missing and keeps the upload open', async () => {
    // Prepare
    const { system, jobId, uploadId } = await openedUpload();
    system.multipart.storePart(uploadId, 1, 5 * MiB);
    system.multipart.storePart(uploadId, 3, 5 * MiB);

    // Act
    const attempt = system.resumable.complete('ana', jobId, 'video');

    // Assess
    await expect(attempt).rejects.toBeInstanceOf(PartsMissing);
    await expect(attempt).rejects.toMatchObject({
      code: 'PARTS_MISSING',
      status: 409,
      message: 'Parts 2, 4, 5 are not stored yet; send them and complete again.',
      details: { missing: [2, 4, 5] },
    });
    expect(system.multipart.uploads.has(uploadId)).toBe(true);
    expect(system.multipart.completed).toEqual([]);
  });

  it('aborts an upload whose parts are not the declared file, and logs why', async () => {
    // Prepare
    const { system, jobId, key, uploadId } = await openedUpload();
    for (const n of [1, 2, 3, 4]) system.multipart.storePart(uploadId, n, 5 * MiB);
    system.multipart.storePart(uploadId, 6, 1);

    // Act
    const attempt = system.resumable.complete('ana', jobId, 'video');

    // Assess
    const reason = 'Part 6 is beyond the 5 parts of this file.';
    await expect(attempt).rejects.toBeInstanceOf(UploadSizeMismatch);
    await expect(attempt).rejects.toMatchObject({
      code: 'SIZE_MISMATCH',
      status: 400,
      message: `${reason} The upload was cancelled; start it again.`,
    });
    expect(system.multipart.aborted).toEqual([{ key, uploadId }]);
    expect(system.multipart.completed).toEqual([]);
    expect(system.logs).toContainEqual({ message: 'multipart upload refused', fields: { jobId, slot: 'video', reason } });
  });

  it('answers a retried complete as done when the first one made the job', async () => {
    // Prepare
    const { system, jobId, key, uploadId } = await openedUpload();
    await system.multipart.complete(key, uploadId, []);
    const intent = await system.store.getIntent(jobId);
    const job = { ...intent, status: 'failed', inputs: [], outputs: [], error: null } as unknown as JobRecord;
    await system.store.putRejected(job);

    // Act
    const answer = await system.resumable.complete('ana', jobId, 'video');

    // Assess
    expect(answer).toEqual({ jobId, slot: 'video', completed: true });
  });

  it('says an upload gone without a job is gone', async () => {
    // Prepare
    const { system, jobId, key, uploadId } = await openedUpload();
    await system.multipart.abort(key, uploadId);

    // Act
    const attempt = system.resumable.complete('ana', jobId, 'video');

    // Assess
    await expect(attempt).rejects.toMatchObject({
      code: 'UPLOAD_GONE',
      message: 'This upload is no longer open (it expired or was cancelled); start it again.',
    });
  });
});
