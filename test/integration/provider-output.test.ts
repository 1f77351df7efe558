import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { providerFileHosts } from '../../lambdas/adapters/provider-output';
import { S3Files } from '../../lambdas/adapters/s3-files';
import { outputRule } from '../../lambdas/domain/catalog';
import { image } from '../support/media';

// The provider's file host, as the test wants it to misbehave; requests are counted per path.
const seen: string[] = [];
const routes: Record<string, (res: ServerResponse) => void> = {};
const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  seen.push(req.url ?? '');
  const route = routes[req.url ?? ''];
  if (route) route(res);
  else res.writeHead(404).end();
});
let base = '';
const bucket = `outputs-${randomUUID().slice(0, 8)}`;
const s3 = new S3Client({ forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' });
let files: S3Files;

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  files = new S3Files(s3, s3, bucket, providerFileHosts(base, ['files.example.com']));
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const stored = (key: string) =>
  s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(
    (head) => head,
    () => null,
  );

/** Serves `body` in chunks without a Content-Length, as a streaming CDN may. */
function chunked(body: Buffer, contentType: string, chunkBytes = 64 * 1024) {
  return (res: ServerResponse) => {
    res.writeHead(200, { 'content-type': contentType, 'transfer-encoding': 'chunked' });
    for (let offset = 0; offset < body.length; offset += chunkBytes) res.write(body.subarray(offset, offset + chunkBytes));
    res.end();
  };
}

describe('collecting a provider output', () => {
  it('stores the bytes with the type they really have, not the one the provider claims', async () => {
    const png = Buffer.from(await image('png'));
    routes['/a.png'] = chunked(png, 'text/html');
    const key = `outputs/${randomUUID()}/0`;
    await expect(files.collect(`${base}/a.png`, key, outputRule('upscale-image'))).resolves.toEqual({
      contentType: 'image/png',
      bytes: png.length,
    });
    const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(object.ContentType).toBe('image/png');
    expect(Buffer.from(await (object.Body?.transformToByteArray() ?? new Uint8Array())).equals(png)).toBe(true);
  });

  it('refuses a host that is not the provider’s before fetching anything', async () => {
    const key = `outputs/${randomUUID()}/0`;
    for (const url of [
      'http://169.254.169.254/latest/meta-data/',
      'https://evil.example.net/x.png',
      'http://files.example.com/x.png',
      'not a url',
    ]) {
      await expect(files.collect(url, key, outputRule('upscale-image'))).rejects.toMatchObject({ name: 'ProviderFailed' });
    }
    expect(await stored(key)).toBeNull();
  });

  it('refuses a redirect to a host that is not the provider’s', async () => {
    routes['/moved'] = (res) => res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
    const key = `outputs/${randomUUID()}/0`;
    await expect(files.collect(`${base}/moved`, key, outputRule('upscale-image'))).rejects.toThrow(/169\.254\.169\.254/);
    expect(await stored(key)).toBeNull();
  });

  it('refuses bytes of another type than the tool returns, and leaves no object', async () => {
    routes['/page'] = chunked(Buffer.from('<html><body>not an image</body></html>'.repeat(200)), 'image/png');
    const png = Buffer.from(await image('png'));
    routes['/image-for-video'] = chunked(png, 'video/mp4');
    const key = `outputs/${randomUUID()}/0`;
    await expect(files.collect(`${base}/page`, key, outputRule('upscale-image'))).rejects.toThrow(/unknown type/);
    await expect(files.collect(`${base}/image-for-video`, key, outputRule('upscale-video'))).rejects.toThrow(/image\/png; expected video/);
    expect(await stored(key)).toBeNull();
  });

  it('stops an output that grows past the tool’s limit mid-stream, and leaves no object or part', async () => {
    const png = Buffer.from(await image('png'));
    const big = Buffer.concat([png, Buffer.alloc(12 * 1024 * 1024, 7)]);
    routes['/big.png'] = chunked(big, 'image/png');
    const key = `outputs/${randomUUID()}/0`;
    const rule = { ...outputRule('upscale-image'), maxBytes: 10 * 1024 * 1024 };
    await expect(files.collect(`${base}/big.png`, key, rule)).rejects.toThrow(/exceeds 10485760 bytes/);
    expect(await stored(key)).toBeNull();
  });

  it('refuses an output whose declared length is over the limit without reading it', async () => {
    routes['/declared.png'] = (res) => res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(2 ** 40) }).end();
    const key = `outputs/${randomUUID()}/0`;
    await expect(files.collect(`${base}/declared.png`, key, outputRule('upscale-image'))).rejects.toThrow(/at most/);
  });

  it('treats a 5xx from the file host as transient and a 404 as the provider’s failure', async () => {
    routes['/busy'] = (res) => res.writeHead(503).end();
    const key = `outputs/${randomUUID()}/0`;
    await expect(files.collect(`${base}/busy`, key, outputRule('upscale-image'))).rejects.toMatchObject({ name: 'Error' });
    await expect(files.collect(`${base}/gone`, key, outputRule('upscale-image'))).rejects.toMatchObject({ name: 'ProviderFailed' });
  });
});
