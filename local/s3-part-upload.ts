import { randomUUID } from 'node:crypto';
import { createWriteStream, openAsBlob } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { S3Error } from './s3-errors';
import { parseRawQuery } from './sigv4';

/** S3's largest part. */
const MAX_PART_BYTES = 5 * 1024 ** 3;

/** `PUT <key>?partNumber=N&uploadId=…` is UploadPart; the gateway forwards no other PUT. */
export function isPartUpload(rawQuery: string): boolean {
  const names = new Set(parseRawQuery(rawQuery).map(([name]) => name));
  return names.has('partNumber') && names.has('uploadId');
}

/** The checks S3 makes before it reads a part's body: a Content-Length, within S3's part size, and a valid part number. */
export function checkPartRequest(req: IncomingMessage, rawQuery: string): number {
  const partNumber = Number(parseRawQuery(rawQuery).find(([name]) => name === 'partNumber')?.[1]);
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > 10_000) {
    throw new S3Error(400, 'InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', {
      ArgumentName: 'partNumber',
    });
  }
  const header = req.headers['content-length'];
  if (header === undefined) throw new S3Error(411, 'MissingContentLength', 'You must provide the Content-Length HTTP header.');
  const length = Number(header);
  if (length > MAX_PART_BYTES) {
    throw new S3Error(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', {
      ProposedSize: length,
      MaxSizeAllowed: MAX_PART_BYTES,
    });
  }
  return length;
}

/**
 * Stages the part, then hands it to s3rver. A body cut short (a dropped connection) never reaches s3rver: S3 does not
 * keep a part it did not receive whole either.
 */
export async function forwardPart(
  req: IncomingMessage,
  res: ServerResponse,
  options: { upstream: URL; path: string; rawQuery: string; length: number; tmpDir: string },
): Promise<void> {
  const staged = join(options.tmpDir, `ghostless-part-${randomUUID()}`);
  try {
    let received = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        received += chunk.length;
        done(null, chunk);
      },
    });
    try {
      await pipeline(req, counter, createWriteStream(staged));
    } catch (error) {
      // The client went away mid-part (a dropped connection): nothing to store, nobody to answer.
      if (req.destroyed) {
        res.destroy();
        return;
      }
      throw error;
    }
    if (received !== options.length) {
      throw new S3Error(400, 'IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header', {
        NumberBytesExpected: options.length,
        NumberBytesProvided: received,
      });
    }
    const upstreamQuery = parseRawQuery(options.rawQuery)
      .filter(([name]) => name === 'partNumber' || name === 'uploadId')
      .map(([name, value]) => `${name}=${encodeURIComponent(value)}`)
      .join('&');
    const response = await fetch(`${options.upstream.origin}${options.path}?${upstreamQuery}`, {
      method: 'PUT',
      body: await openAsBlob(staged),
      headers: { 'content-length': String(received) },
      duplex: 'half',
    } as RequestInit);
    const body = await response.text();
    const headers: Record<string, string> = { 'content-length': String(Buffer.byteLength(body)) };
    for (const name of ['etag', 'content-type']) {
      const value = response.headers.get(name);
      if (value) headers[name] = value;
    }
    res.writeHead(response.status, headers);
    res.end(body);
  } finally {
    await rm(staged, { force: true });
  }
}
