import { randomUUID } from 'node:crypto';
import { AbortMultipartUploadCommand, CreateMultipartUploadCommand, ListPartsCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, describe, expect, it } from 'vitest';
import { startGatewayHarness } from '../support/s3-gateway-harness';

// The parts of a resumable upload through the local S3 gateway, and the multipart calls s3rver lacks (s3-multipart-gaps.ts).
const bucket = `parts-${randomUUID()}`;
const harness = await startGatewayHarness(bucket);
afterAll(() => harness.stop());
const { presigner, direct } = harness;

async function newUpload() {
  const Key = `inputs/${randomUUID()}/video`;
  const { UploadId } = await direct.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key, ContentType: 'video/mp4' }));
  return { Key, UploadId: UploadId as string };
}

/** A part URL as the api function presigns it: part number, upload id and length signed. */
const partUrl = (upload: { Key: string; UploadId: string }, PartNumber: number, length?: number) =>
  getSignedUrl(presigner, new UploadPartCommand({ Bucket: bucket, ...upload, PartNumber, ContentLength: length }), {
    expiresIn: 60,
    signableHeaders: length === undefined ? undefined : new Set(['content-length']),
  });

const answer = async (response: Response) => [response.status, /<Code>([^<]+)<\/Code>/.exec(await response.text())?.[1]];

describe('resumable upload parts through the local S3 gateway', () => {
  it('stores a part sent to its URL and lists it with its size and ETag', async () => {
    const upload = await newUpload();
    const response = await fetch(await partUrl(upload, 2, 10), { method: 'PUT', body: Buffer.alloc(10, 1) });
    expect(response.status).toBe(200);
    const listed = await direct.send(new ListPartsCommand({ Bucket: bucket, ...upload }));
    expect(listed.Parts?.map((p) => [p.PartNumber, p.Size, p.ETag])).toEqual([[2, 10, response.headers.get('etag')]]);
  });

  it('refuses an expired part URL as S3 does, and a URL without any signature', async () => {
    const upload = await newUpload();
    const url = await partUrl(upload, 1, 10);
    harness.shiftClock(61_000);
    try {
      const expired = await fetch(url, { method: 'PUT', body: Buffer.alloc(10) });
      expect(expired.status).toBe(403);
      expect(await expired.text()).toMatch(/<Code>AccessDenied<\/Code><Message>Request has expired<\/Message>/);
    } finally {
      harness.shiftClock(0);
    }
    const unsigned = `${url.split('?')[0]}?partNumber=1&uploadId=${upload.UploadId}`;
    expect(await answer(await fetch(unsigned, { method: 'PUT', body: Buffer.alloc(10) }))).toEqual([403, 'AccessDenied']);
    expect((await direct.send(new ListPartsCommand({ Bucket: bucket, ...upload }))).Parts ?? []).toEqual([]);
  });

  it('asks for a Content-Length and a part number S3 accepts', async () => {
    const upload = await newUpload();
    const chunked = new ReadableStream({
      start(controller) {
        controller.enqueue(new Uint8Array(10));
        controller.close();
      },
    });
    const init = { method: 'PUT', body: chunked, duplex: 'half' } as RequestInit;
    expect(await answer(await fetch(await partUrl(upload, 1), init))).toEqual([411, 'MissingContentLength']);
    expect(await answer(await fetch(await partUrl(upload, 10_001, 10), { method: 'PUT', body: Buffer.alloc(10) }))).toEqual([
      400,
      'InvalidArgument',
    ]);
  });

  it('answers NoSuchUpload for an unknown, aborted or other key’s upload id', async () => {
    const upload = await newUpload();
    const other = await newUpload();
    const send = async (target: { Key: string; UploadId: string }) =>
      answer(await fetch(await partUrl(target, 1, 10), { method: 'PUT', body: Buffer.alloc(10) }));
    expect(await send({ Key: upload.Key, UploadId: 'f'.repeat(32) })).toEqual([404, 'NoSuchUpload']);
    expect(await send({ Key: other.Key, UploadId: upload.UploadId })).toEqual([404, 'NoSuchUpload']);
    await direct.send(new AbortMultipartUploadCommand({ Bucket: bucket, ...upload }));
    expect(await send(upload)).toEqual([404, 'NoSuchUpload']);
    await expect(direct.send(new ListPartsCommand({ Bucket: bucket, ...upload }))).rejects.toMatchObject({ name: 'NoSuchUpload' });
  });
});
