import { openAsBlob } from 'node:fs';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { CheckedPostForm } from './s3-post-policy';
import { parseRawQuery } from './sigv4';

/** How the S3 gateway hands checked requests to s3rver and relays its answers. */

/** Query parameters S3 honours on GET to override response headers. */
const RESPONSE_OVERRIDES = new Set([
  'response-cache-control',
  'response-content-disposition',
  'response-content-encoding',
  'response-content-language',
  'response-content-type',
  'response-expires',
]);
const FORWARDED_REQUEST_HEADERS = ['range', 'if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since'];
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'date', 'server']);

/**
 * Streams an object from s3rver, keeping conditional/range headers. S3's response-* overrides are applied
 * here (s3rver refuses them on requests it considers anonymous).
 */
export function forwardGet(req: IncomingMessage, res: ServerResponse, upstream: URL, path: string, rawQuery: string): Promise<void> {
  const overrides = parseRawQuery(rawQuery).filter(([name]) => RESPONSE_OVERRIDES.has(name));
  const headers: Record<string, string> = {};
  for (const name of FORWARDED_REQUEST_HEADERS) {
    const value = req.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  return new Promise((resolve, reject) => {
    const upstreamReq = httpRequest(
      {
        hostname: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path,
        headers,
      },
      (upstreamRes) => {
        const out: Record<string, string | string[]> = {};
        for (const [name, value] of Object.entries(upstreamRes.headers)) {
          if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
        }
        const ok = (upstreamRes.statusCode ?? 500) < 300;
        for (const [name, value] of overrides) if (ok) out[name.slice('response-'.length)] = value;
        res.writeHead(upstreamRes.statusCode ?? 502, out);
        pipeline(upstreamRes, res).then(resolve, (error) => {
          res.destroy();
          // The client went away mid-download: nothing left to answer.
          if ((error as NodeJS.ErrnoException).code === 'ERR_STREAM_PREMATURE_CLOSE') resolve();
          else reject(error);
        });
      },
    );
    upstreamReq.on('error', reject);
    upstreamReq.end();
  });
}

/** Hands the checked upload to s3rver as a POST, so it stores the object and emits ObjectCreated:Post. */
export async function storeObject(
  req: IncomingMessage,
  res: ServerResponse,
  { upstream, prefix }: { upstream: URL; prefix: string },
  bucket: string,
  checked: CheckedPostForm,
  staged: string,
  filename: string | undefined,
): Promise<void> {
  const form = new FormData();
  form.append('key', checked.key);
  for (const [name, value] of checked.objectFields) form.append(name, value);
  form.append('file', await openAsBlob(staged), filename || 'file');
  const response = await fetch(`${upstream.origin}/${encodeURIComponent(bucket)}`, {
    method: 'POST',
    body: form,
    redirect: 'manual',
  });
  const publicBase = `http://${req.headers.host ?? 'localhost'}${prefix}`;
  let body = await response.text();
  body = body.replaceAll(upstream.origin, publicBase);
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (!HOP_BY_HOP.has(name) && name !== 'content-length') headers[name] = value;
  });
  if (response.ok && response.status !== 303) {
    headers.location = `${publicBase}/${encodeURIComponent(bucket)}/${checked.key.split('/').map(encodeURIComponent).join('/')}`;
  } else if (headers.location) {
    headers.location = headers.location.replaceAll(upstream.origin, publicBase);
  }
  headers['content-length'] = String(Buffer.byteLength(body));
  res.writeHead(response.status, headers);
  res.end(body);
}
