import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { CODES } from '../../lambdas/adapters/runninghub-protocol';

/** The local provider's HTTP plumbing: RunningHub's `{code, msg, data}` envelope, JSON bodies and stored files. */

const CODE_NAMES = Object.fromEntries(Object.entries(CODES).map(([name, code]) => [code, name])) as Record<number, string>;
export const CONTENT_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  mp4: 'video/mp4',
  mov: 'video/quicktime',
};

/** A business code's message: the one given, else RunningHub's name for the code. */
export const codeName = (code: number, msg?: string) => msg ?? CODE_NAMES[code] ?? 'ERROR';

export function ok(data: unknown) {
  return { code: CODES.OK, msg: 'success', data };
}

export function fail(code: number, msg?: string) {
  return { code, msg: codeName(code, msg), data: null };
}

export function sendJson(res: ServerResponse, body: unknown, status = 200) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** The whole body, or null past `limit` bytes (the rest is drained so the client still reads the answer). */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | null> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  }
  return size > limit ? null : Buffer.concat(chunks);
}

export async function serveFile(res: ServerResponse, dir: string, name: string, headOnly: boolean) {
  const extension = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase() ?? '';
  const info = /^[\w.-]+$/.test(name) ? await stat(join(dir, name)).catch(() => null) : null;
  if (!info?.isFile()) {
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('Not found');
    return;
  }
  res.writeHead(200, { 'content-type': CONTENT_TYPES[extension] ?? 'application/octet-stream', 'content-length': info.size });
  if (headOnly) {
    res.end();
    return;
  }
  await new Promise<void>((done, reject) => {
    createReadStream(join(dir, name)).on('error', reject).pipe(res).on('finish', done).on('close', done);
  });
}
