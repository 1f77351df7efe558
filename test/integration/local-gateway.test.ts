import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { S3Event } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeS3EventKey, type S3Local, S3RVER_CREDENTIALS, startS3Local } from '../../local/emulators/s3';
import { S3Error } from '../../local/s3-errors';
import { createS3Gateway } from '../../local/s3-gateway';
import { checkContentLength, checkPostForm } from '../../local/s3-post-policy';

const region = 'us-east-1';
const bucket = `gw-${randomUUID()}`;
let s3: S3Local;
let server: Server;
let gatewayBase: string;
/** Shifts the gateway's clock, to see expired policies and URLs without waiting. */
let clockOffsetMs = 0;
const events: S3Event[] = [];

/** A presigning client as the handlers configure it for the local stack: pointed at the gateway. */
let presigner: S3Client;
/** A server-side client talking to s3rver directly. */
let direct: S3Client;

beforeAll(async () => {
  s3 = await startS3Local();
  s3.onObjectCreated((event) => events.push(event));
  const gateway = createS3Gateway({ s3Endpoint: s3.endpoint, now: () => new Date(Date.now() + clockOffsetMs) });
  server = createServer((req, res) => void gateway(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  gatewayBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}/s3`;
  const common = { region, credentials: S3RVER_CREDENTIALS, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' } as const;
  presigner = new S3Client({ ...common, endpoint: gatewayBase });
  direct = new S3Client({ ...common, endpoint: s3.endpoint });
  await direct.send(new CreateBucketCommand({ Bucket: bucket }));
});

afterAll(async () => {
  presigner?.destroy();
  direct?.destroy();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await s3?.stop();
});

const png = (size: number) => Buffer.alloc(size, 7);

/** A presigned POST exactly as the uploads handler makes one: exact size and content type. */
async function presignPost(key: string, contentType: string, size: number, expires = 600) {
  return createPresignedPost(presigner, {
    Bucket: bucket,
    Key: key,
    Conditions: [
      ['content-length-range', size, size],
      ['eq', '$Content-Type', contentType],
    ],
    Fields: { 'Content-Type': contentType },
    Expires: expires,
  });
}

function form(fields: Record<string, string>, body: Buffer | undefined, filename = 'photo.png'): FormData {
  const data = new FormData();
  for (const [name, value] of Object.entries(fields)) data.append(name, value);
  if (body) data.append('file', new Blob([new Uint8Array(body)]), filename);
  return data;
}

async function upload(url: string, fields: Record<string, string>, body: Buffer | undefined) {
  const response = await fetch(url, { method: 'POST', body: form(fields, body) });
  const text = await response.text();
  return { status: response.status, code: /<Code>([^<]+)<\/Code>/.exec(text)?.[1], text, headers: response.headers };
}

async function exists(key: string): Promise<boolean> {
  try {
    await direct.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch {
    return false;
  }
}

const retamper = (policyB64: string, edit: (doc: { conditions: unknown[] }) => void) => {
  const doc = JSON.parse(Buffer.from(policyB64, 'base64').toString('utf8'));
  edit(doc);
  return Buffer.from(JSON.stringify(doc)).toString('base64');
};

function fieldsOf(post: { fields: Record<string, string> }): [string, string][] {
  return Object.entries(post.fields);
}

function rejection(run: () => unknown): S3Error {
  try {
    run();
  } catch (error) {
    if (error instanceof S3Error) return error;
    throw error;
  }
  throw new Error('expected an S3Error');
}

const knownKeys = (accessKeyId: string) => (accessKeyId === S3RVER_CREDENTIALS.accessKeyId ? S3RVER_CREDENTIALS : undefined);

describe('POST policy checks', () => {
  const check = (fields: [string, string][], now?: Date) => checkPostForm({ bucket, fields, keys: knownKeys, region, now });

  it('accepts an untouched presigned POST and reports its key, size range and object fields', async () => {
    const key = `inputs/${randomUUID()}/image`;
    const post = await presignPost(key, 'image/png', 10);
    const checked = check(fieldsOf(post));
    expect(checked.key).toBe(key);
    expect(checked.lengthRange).toEqual({ min: 10, max: 10 });
    expect(checked.objectFields).toEqual([['Content-Type', 'image/png']]);
  });

  it('rejects a key other than the signed one', async () => {
    const post = await presignPost(`inputs/${randomUUID()}/image`, 'image/png', 10);
    const error = rejection(() => check(fieldsOf(post).map(([n, v]) => [n, n === 'key' ? 'inputs/someone-else' : v])));
    expect([error.status, error.code]).toEqual([403, 'AccessDenied']);
    expect(error.message).toContain('Policy Condition failed');
  });

  it('rejects a changed Content-Type field', async () => {
    const post = await presignPost(`inputs/${randomUUID()}/image`, 'image/png', 10);
    const error = rejection(() => check(fieldsOf(post).map(([n, v]) => [n, n === 'Content-Type' ? 'text/html' : v])));
    expect([error.status, error.code]).toEqual([403, 'AccessDenied']);
  });

  it('rejects a policy edited after signing', async () => {
    const post = await presignPost(`inputs/${randomUUID()}/image`, 'image/png', 10);
    const policy = retamper(post.fields.Policy as string, (doc) => {
      doc.conditions[0] = ['content-length-range', 0, 10_000_000];
    });
    const error = rejection(() => check(fieldsOf(post).map(([n, v]) => [n, n === 'Policy' ? policy : v])));
    expect([error.status, error.code]).toEqual([403, 'SignatureDoesNotMatch']);
  });

  it('rejects a policy past its expiration', async () => {
    const post = await presignPost(`inputs/${randomUUID()}/image`, 'image/png', 10, 60);
    const error = rejection(() => check(fieldsOf(post), new Date(Date.now() + 61_000)));
    expect([error.status, error.code, error.message]).toEqual([403, 'AccessDenied', 'Invalid according to Policy: Policy expired.']);
  });

  it('rejects a form field that no policy condition covers', async () => {
    const post = await presignPost(`inputs/${randomUUID()}/image`, 'image/png', 10);
    const error = rejection(() => check([...fieldsOf(post), ['x-amz-meta-owner', 'mallory']]));
    expect([error.status, error.code, error.message]).toEqual([
      403,
      'AccessDenied',
      'Invalid according to Policy: Extra input fields: x-amz-meta-owner',
    ]);
  });

  it('rejects a signature made with another access key', async () => {
    const post = await presignPost(`inputs/${randomUUID()}/image`, 'image/png', 10);
    const error = rejection(() =>
      checkPostForm({
        bucket,
        fields: fieldsOf(post),
        keys: () => ({ accessKeyId: 'S3RVER', secretAccessKey: 'another-secret' }),
        region,
      }),
    );
    expect(error.code).toBe('SignatureDoesNotMatch');
  });

  it('rejects a bucket other than the signed one', async () => {
    const post = await presignPost(`inputs/${randomUUID()}/image`, 'image/png', 10);
    const error = rejection(() => checkPostForm({ bucket: 'another-bucket', fields: fieldsOf(post), keys: knownKeys, region }));
    expect([error.status, error.code]).toEqual([403, 'AccessDenied']);
  });

  it('rejects sizes outside content-length-range as EntityTooLarge or EntityTooSmall', () => {
    expect(() => checkContentLength(10, { min: 10, max: 10 })).not.toThrow();
    const large = rejection(() => checkContentLength(11, { min: 10, max: 10 }));
    const small = rejection(() => checkContentLength(9, { min: 10, max: 10 }));
    expect([large.status, large.code]).toEqual([400, 'EntityTooLarge']);
    expect([small.status, small.code]).toEqual([400, 'EntityTooSmall']);
  });
});

describe('the S3 gateway', () => {
  it('stores a valid POST upload with its content type and emits an AWS-shaped ObjectCreated:Post event', async () => {
    const key = `inputs/${randomUUID()}/my photo+1.png`;
    const post = await presignPost(key, 'image/png', 25);
    expect(post.url).toBe(`${gatewayBase}/${bucket}`);
    const result = await upload(post.url, post.fields, png(25));
    expect(result.status).toBe(204);
    const head = await direct.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ContentType).toBe('image/png');
    expect(head.ContentLength).toBe(25);
    await expect.poll(() => events.find((e) => e.Records[0]?.s3.object.key === encodeS3EventKey(key))).toBeTruthy();
    const record = events.find((e) => e.Records[0]?.s3.object.key === encodeS3EventKey(key))?.Records[0];
    expect(record).toMatchObject({
      eventSource: 'aws:s3',
      eventName: 'ObjectCreated:Post',
      awsRegion: region,
      s3: { bucket: { name: bucket, arn: `arn:aws:s3:::${bucket}` }, object: { size: 25 } },
    });
    expect(record?.s3.object.key).toMatch(/\/my\+photo%2B1\.png$/);
    expect(decodeURIComponent(String(record?.s3.object.key).replace(/\+/g, ' '))).toBe(key);
    expect(record?.s3.object.eTag).toMatch(/^[0-9a-f]{32}$/);
  });

  it('refuses an upload whose key differs from the signed key', async () => {
    const key = `inputs/${randomUUID()}/image`;
    const post = await presignPost(key, 'image/png', 25);
    const forged = `inputs/${randomUUID()}/forged`;
    const result = await upload(post.url, { ...post.fields, key: forged }, png(25));
    expect([result.status, result.code]).toEqual([403, 'AccessDenied']);
    expect(result.headers.get('content-type')).toBe('application/xml');
    expect(await exists(forged)).toBe(false);
  });

  it('refuses bodies larger or smaller than the signed size', async () => {
    const key = `inputs/${randomUUID()}/image`;
    const post = await presignPost(key, 'image/png', 25);
    const large = await upload(post.url, post.fields, png(26));
    const small = await upload(post.url, post.fields, png(24));
    expect([large.status, large.code]).toEqual([400, 'EntityTooLarge']);
    expect([small.status, small.code]).toEqual([400, 'EntityTooSmall']);
    expect(await exists(key)).toBe(false);
  });

  it('refuses a tampered Content-Type field', async () => {
    const key = `inputs/${randomUUID()}/image`;
    const post = await presignPost(key, 'image/png', 25);
    const result = await upload(post.url, { ...post.fields, 'Content-Type': 'text/html' }, png(25));
    expect([result.status, result.code]).toEqual([403, 'AccessDenied']);
    expect(await exists(key)).toBe(false);
  });

  it('refuses a tampered policy', async () => {
    const key = `inputs/${randomUUID()}/image`;
    const post = await presignPost(key, 'image/png', 25);
    const Policy = retamper(post.fields.Policy as string, (doc) => {
      doc.conditions[0] = ['content-length-range', 0, 1_000_000];
    });
    const result = await upload(post.url, { ...post.fields, Policy }, png(500));
    expect([result.status, result.code]).toEqual([403, 'SignatureDoesNotMatch']);
    expect(await exists(key)).toBe(false);
  });

  it('refuses an expired policy', async () => {
    const key = `inputs/${randomUUID()}/image`;
    const post = await presignPost(key, 'image/png', 25, 60);
    clockOffsetMs = 61_000;
    try {
      const result = await upload(post.url, post.fields, png(25));
      expect([result.status, result.code]).toEqual([403, 'AccessDenied']);
      expect(result.text).toContain('Policy expired');
    } finally {
      clockOffsetMs = 0;
    }
    expect(await exists(key)).toBe(false);
  });

  it('refuses an extra form field and an upload without a file', async () => {
    const post = await presignPost(`inputs/${randomUUID()}/image`, 'image/png', 25);
    const extra = await upload(post.url, { ...post.fields, 'x-amz-meta-owner': 'mallory' }, png(25));
    const noFile = await upload(post.url, post.fields, undefined);
    expect([extra.status, extra.code]).toEqual([403, 'AccessDenied']);
    expect([noFile.status, noFile.code]).toEqual([400, 'InvalidArgument']);
  });

  it('refuses an unsigned upload and a non-multipart POST', async () => {
    const unsigned = await upload(`${gatewayBase}/${bucket}`, { key: `inputs/${randomUUID()}` }, png(3));
    const notMultipart = await fetch(`${gatewayBase}/${bucket}`, { method: 'POST', body: 'x' });
    expect([unsigned.status, unsigned.code]).toEqual([403, 'AccessDenied']);
    expect(notMultipart.status).toBe(412);
  });

  it('serves a presigned GET and HEAD with response header overrides', async () => {
    const key = `outputs/${randomUUID()}/result (1).png`;
    await direct.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: png(40), ContentType: 'image/png' }));
    const url = await getSignedUrl(
      presigner,
      new GetObjectCommand({ Bucket: bucket, Key: key, ResponseContentDisposition: 'attachment; filename="result.png"' }),
      { expiresIn: 60 },
    );
    const get = await fetch(url);
    expect(get.status).toBe(200);
    expect(get.headers.get('content-type')).toBe('image/png');
    expect(get.headers.get('content-disposition')).toBe('attachment; filename="result.png"');
    expect(Buffer.from(await get.arrayBuffer())).toEqual(png(40));
    const headUrl = await getSignedUrl(presigner, new HeadObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 60 });
    const head = await fetch(headUrl, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('40');
  });

  it('refuses expired, tampered and unsigned GETs', async () => {
    const key = `outputs/${randomUUID()}/result.png`;
    await direct.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: png(5), ContentType: 'image/png' }));
    const url = await getSignedUrl(presigner, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: 60 });
    const code = async (target: string) => {
      const response = await fetch(target);
      return [response.status, /<Code>([^<]+)<\/Code>/.exec(await response.text())?.[1]];
    };
    const otherKey = url.replace('/result.png?', '/other.png?');
    expect(await code(otherKey)).toEqual([403, 'SignatureDoesNotMatch']);
    expect(await code(url.replace('X-Amz-Expires=60', 'X-Amz-Expires=600'))).toEqual([403, 'SignatureDoesNotMatch']);
    expect(await code(url.split('?')[0] as string)).toEqual([403, 'AccessDenied']);
    clockOffsetMs = 61_000;
    try {
      expect(await code(url)).toEqual([403, 'AccessDenied']);
    } finally {
      clockOffsetMs = 0;
    }
    expect(await code(url)).toEqual([200, undefined]);
  });

  it('answers other methods with MethodNotAllowed', async () => {
    const response = await fetch(`${gatewayBase}/${bucket}/inputs/x`, { method: 'PUT', body: 'x' });
    expect(response.status).toBe(405);
    expect(await response.text()).toContain('<Code>MethodNotAllowed</Code>');
  });
});
