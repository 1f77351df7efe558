import { randomUUID } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { TOOLS } from '../../lambdas/domain/catalog';
import type { Job } from '../../lambdas/domain/jobs';
import { image, mp4Header, textFile, video } from '../support/media';
import { startTestStack } from '../support/started-stack';

/**
 * The findings of the security review (issue 10), each reproduced as an attacker would over HTTP against
 * the whole local stack, and now refused. `HOSTILE` counts the hostile inputs tried.
 */
const stack = await startTestStack({ PROVIDER_LATENCY_MS: '200', MAX_RUNNING: '1' });
afterAll(() => stack.stop());
const { api } = stack;
let hostile = 0;
afterAll(() => console.log(`[security-http] ${hostile} hostile inputs tried`));

let n = 0;
const newUser = (balance: number) => api.user(`sec-${++n}-${Date.now()}`, balance);
type Upload = { slot: string; url: string; fields: Record<string, string> };
type File = { slot: string; contentType: string; body: Uint8Array<ArrayBuffer> };

/** Presigns the files' uploads, as the SPA does. */
async function presign(token: string, tool: string, files: File[]) {
  const reply = await api.call<{ jobId: string; uploads: Upload[] }>('POST', '/api/uploads', {
    token,
    body: { tool, files: files.map((f) => ({ slot: f.slot, contentType: f.contentType, size: f.body.length })) },
  });
  expect(reply.status, JSON.stringify(reply.body)).toBe(201);
  return reply.body;
}

/** Sends one upload form with `body` as the file: the browser's multipart POST to S3. */
async function post(upload: Upload, body: Uint8Array<ArrayBuffer>, contentType: string) {
  const form = new FormData();
  for (const [name, value] of Object.entries(upload.fields)) form.append(name, value);
  form.append('file', new Blob([body], { type: contentType }));
  return (await fetch(upload.url, { method: 'POST', body: form })).status;
}

/** Waits until admission decided; an admitted job is charged, then cancelled so it does not hold the one slot. */
async function admitted(token: string, jobId: string) {
  const job = await api.waitForJob(token, jobId, (j) => j.status !== 'failed' || j.error?.code !== 'INVALID_INPUT');
  if (job.status === 'queued' || job.status === 'running') await api.call('POST', `/api/jobs/${jobId}/cancel`, { token });
  return job.error?.code !== 'INVALID_INPUT';
}

async function balance(token: string) {
  return (await api.call<{ balance: number }>('GET', '/api/credits', { token })).body.balance;
}

describe('finding: a crafted cursor, limit or id answered 500 (now 400 INVALID_REQUEST)', () => {
  const cursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

  it('refuses every malformed limit', async () => {
    const user = await newUser(0);
    for (const limit of ['0', '101', '-1', 'abc', '1e1', ' 5', '5.0', '0x10', '', '1,2', '999999999999999999999', '%00']) {
      hostile++;
      const reply = await api.call('GET', `/api/jobs?limit=${encodeURIComponent(limit)}`, { token: user.token });
      expect(reply, `limit=${limit}`).toMatchObject({
        status: 400,
        body: { error: 'INVALID_REQUEST', message: expect.stringContaining('limit') },
      });
    }
  });

  it('refuses every cursor it did not issue, and follows the one it did', async () => {
    const user = await newUser(1);
    const other = await newUser(0);
    // Two finished jobs (text files named .png: failed INVALID_INPUT, uncharged) so a real cursor exists.
    for (let i = 0; i < 2; i++) {
      const jobId = await api.submit(user.token, 'upscale-image', [
        { slot: 'image', contentType: 'image/png', body: textFile(`not a picture ${i}`) },
      ]);
      await api.waitForJob(user.token, jobId);
    }
    const first = await api.call<{ jobs: Job[]; nextCursor: string }>('GET', '/api/jobs?limit=1', { token: user.token });
    expect(first.body.jobs).toHaveLength(1);
    const issued = JSON.parse(Buffer.from(first.body.nextCursor, 'base64url').toString());
    const second = await api.call<{ jobs: Job[] }>('GET', `/api/jobs?limit=1&cursor=${first.body.nextCursor}`, { token: user.token });
    expect(second).toMatchObject({ status: 200, body: { jobs: [expect.objectContaining({ status: 'failed' })] } });
    expect(second.body.jobs[0]?.jobId).not.toBe(first.body.jobs[0]?.jobId);

    const jobId = randomUUID();
    const crafted = [
      cursor({ ...issued, extra: 'x' }), // the reported 500: "Exclusive Start Key must have same size"
      cursor({ ...issued, sk: undefined }),
      cursor({ ...issued, gsi1pk: `USER#${other.userId}` }), // someone else's history
      cursor({ ...issued, pk: `JOB#${jobId}` }), // pk and sort key disagree
      cursor({ ...issued, sk: 'INTENT' }),
      cursor({ ...issued, gsi1sk: `not-a-date#${issued.pk.slice(4)}` }),
      cursor({ ...issued, pk: { S: 'JOB#x' } }),
      cursor({ ...issued, gsi1sk: 7 }),
      cursor([issued]),
      cursor(null),
      cursor('JOB'),
      'not base64 at all!',
      '%%%',
      Buffer.from('{"pk":').toString('base64url'),
      'A'.repeat(5000),
    ];
    for (const value of crafted) {
      hostile++;
      const reply = await api.call('GET', `/api/jobs?cursor=${encodeURIComponent(value)}`, { token: user.token });
      expect(reply, value.slice(0, 80)).toMatchObject({
        status: 400,
        body: { error: 'INVALID_REQUEST', message: expect.stringContaining('cursor') },
      });
    }
  }, 30_000);

  it('refuses malformed job ids on every job route, and answers 404 for a well-formed unknown one', async () => {
    const user = await newUser(0);
    const bad = ['not-a-uuid', randomUUID().toUpperCase(), `${randomUUID()}x`, 'x'.repeat(3000), '%00', '..%2F..%2Fetc', "' OR 1=1 --"];
    for (const id of bad) {
      for (const [method, path] of [
        ['GET', `/api/jobs/${id}`],
        ['POST', `/api/jobs/${id}/cancel`],
      ] as const) {
        hostile++;
        const reply = await api.call(method, path, { token: user.token });
        expect(reply, `${method} ${path.slice(0, 60)}`).toMatchObject({ status: 400, body: { error: 'INVALID_REQUEST' } });
      }
    }
    expect(await api.call('GET', `/api/jobs/${randomUUID()}`, { token: user.token })).toMatchObject({
      status: 404,
      body: { error: 'NOT_FOUND' },
    });
  });
});

/** A PNG whose IHDR claims `width × height`: a few hundred bytes that decode to a huge image. */
function pngClaiming(width: number, height: number) {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const png = Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', Buffer.alloc(300)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
  return new Uint8Array(png) as Uint8Array<ArrayBuffer>;
}

const encode = async (format: 'jpeg' | 'webp' | 'png', width: number, height: number) => {
  const buffer = await sharp({ create: { width, height, channels: 3, background: '#3b6fd8' } })
    .toFormat(format, { quality: 30 })
    .toBuffer();
  return new Uint8Array(buffer) as Uint8Array<ArrayBuffer>;
};

describe('finding: image dimensions and video headers were never checked (now INVALID_INPUT, uncharged, naming the limit)', () => {
  async function outcome(tool: string, file: File) {
    const user = await newUser(10);
    const jobId = await api.submit(user.token, tool, [file]);
    const job = await api.waitForJob(user.token, jobId);
    return { job, balance: await balance(user.token) };
  }

  it("refuses images over the tool's megapixel limit, whatever the format, before charging", async () => {
    const limit = TOOLS['upscale-image'].limits.maxMegapixels;
    const cases: [string, File][] = [
      ['20000 × 20000 PNG in 400 bytes', { slot: 'image', contentType: 'image/png', body: pngClaiming(20_000, 20_000) }],
      ['65535 × 1 PNG', { slot: 'image', contentType: 'image/png', body: pngClaiming(65_535, 300) }],
      ['4200 × 4200 JPEG', { slot: 'image', contentType: 'image/jpeg', body: await encode('jpeg', 4200, 4200) }],
      ['4200 × 4200 WebP', { slot: 'image', contentType: 'image/webp', body: await encode('webp', 4200, 4200) }],
    ];
    for (const [name, file] of cases) {
      hostile++;
      const { job, balance: left } = await outcome('upscale-image', file);
      expect(job, name).toMatchObject({ status: 'failed', refunded: false, error: { code: 'INVALID_INPUT' } });
      expect(job.error?.message, name).toContain(`at most ${limit} megapixels`);
      expect(left, name).toBe(10);
    }
  }, 60_000);

  it('refuses an image whose header cannot be read, and admits one just under the limit', async () => {
    hostile++;
    const truncated = (await image('png', 64, 48)).slice(0, 20); // signature and half an IHDR
    const user = await newUser(10);
    const cut = await api.submit(user.token, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: truncated }]);
    expect(await api.waitForJob(user.token, cut)).toMatchObject({ status: 'failed', error: { code: 'INVALID_INPUT' } });

    const ok = await api.submit(user.token, 'upscale-image', [
      { slot: 'image', contentType: 'image/jpeg', body: await encode('jpeg', 4096, 4096) },
    ]);
    expect(await admitted(user.token, ok)).toBe(true);
  }, 60_000);

  it('refuses videos over the duration or frame limits, or without a readable header; admits moov-at-end MP4 and QuickTime', async () => {
    const limits = TOOLS['upscale-video'].limits.video as NonNullable<(typeof TOOLS)['upscale-video']['limits']['video']>;
    const bad: [string, File, string][] = [
      [
        '2560 × 1440',
        { slot: 'video', contentType: 'video/mp4', body: await video({ width: 2560, height: 1440 }) },
        `${limits.maxLongSide} × ${limits.maxShortSide}`,
      ],
      [
        'portrait 1080 × 2400',
        { slot: 'video', contentType: 'video/mp4', body: await video({ width: 1080, height: 2400 }) },
        `${limits.maxLongSide} × ${limits.maxShortSide}`,
      ],
      [
        'long',
        { slot: 'video', contentType: 'video/mp4', body: await video({ seconds: limits.maxSeconds + 10 }) },
        `at most ${limits.maxSeconds} seconds`,
      ],
      ['ftyp only', { slot: 'video', contentType: 'video/mp4', body: mp4Header() }, 'no readable MP4/QuickTime header'],
    ];
    for (const [name, file, limit] of bad) {
      hostile++;
      const { job, balance: left } = await outcome('upscale-video', file);
      expect(job, name).toMatchObject({ status: 'failed', refunded: false, error: { code: 'INVALID_INPUT' } });
      expect(job.error?.message, name).toContain(limit);
      expect(left, name).toBe(10);
    }
    for (const file of [
      { slot: 'video', contentType: 'video/mp4', body: await video({ width: 320, height: 240, seconds: 2 }) },
      { slot: 'video', contentType: 'video/quicktime', body: await video({ format: 'mov' }) },
      { slot: 'video', contentType: 'video/mp4', body: await video({ faststart: true }) },
    ]) {
      const user = await newUser(5);
      const jobId = await api.submit(user.token, 'upscale-video', [file]);
      expect(await admitted(user.token, jobId), file.contentType).toBe(true);
    }
  }, 120_000);
});

describe('finding: bytes swapped after admission reached the provider (now the admitted copy runs)', () => {
  it('runs the job on the inspected bytes when the upload form is re-sent with other bytes', async () => {
    // One slot, held by a task that never ends, so the victim waits in the queue while the swap happens.
    const blocker = await newUser(5);
    stack.provider.hangNextTask();
    const blockerJob = await api.submit(blocker.token, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: await image() }]);
    await api.waitForJob(blocker.token, blockerJob, (j) => j.status === 'running');

    const user = await newUser(5);
    const original = await image('png', 40, 30);
    const { jobId, uploads } = await presign(user.token, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: original }]);
    const upload = uploads[0] as Upload;
    expect(await post(upload, original, 'image/png')).toBe(204);
    await api.waitForJob(user.token, jobId, (j) => j.status === 'queued');

    // The form is still valid: same key, same size, same declared type, other bytes.
    const swapped = new Uint8Array(original.length) as Uint8Array<ArrayBuffer>;
    swapped.set(textFile('#!/bin/sh\necho pwned\n'));
    hostile++;
    expect(await post(upload, swapped, 'image/png')).toBe(204);
    // And a larger image of the same byte size cannot be smuggled in either.
    hostile++;
    expect(await post(upload, pngClaiming(20_000, 20_000).slice(0, original.length), 'image/png')).toBe(204);

    // What the job will send: its input is an admitted/ copy, byte for byte the inspected upload.
    const { Item } = await stack.doc.send(new GetCommand({ TableName: stack.config.tableName, Key: { pk: `JOB#${jobId}`, sk: 'JOB' } }));
    const [input] = (Item as { inputs: { key: string }[] }).inputs;
    expect(input?.key).toMatch(new RegExp(`^admitted/${jobId}/image/`));
    const s3 = new S3Client({
      endpoint: stack.s3Endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const stored = await s3.send(new GetObjectCommand({ Bucket: stack.bucketName, Key: input?.key }));
    expect(Buffer.from(await (stored.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray())).toEqual(
      Buffer.from(original),
    );

    // Free the slot: the victim runs, on the original picture (2× of 40 × 30).
    expect((await api.call('POST', `/api/jobs/${blockerJob}/cancel`, { token: blocker.token })).status).toBe(200);
    const done = await api.waitForJob(user.token, jobId, undefined, 30_000);
    expect(done).toMatchObject({ status: 'succeeded', error: null });
    const result = await fetch(done.outputs[0]?.url as string);
    // Saved as a name that says what it is, not as the object's key.
    expect(result.headers.get('content-disposition')).toBe(`attachment; filename="ghostless-upscale-image-${jobId.slice(0, 8)}.png"`);
    const { width, height } = await sharp(Buffer.from(await result.arrayBuffer())).metadata();
    expect([width, height]).toEqual([80, 60]);
  }, 60_000);
});
