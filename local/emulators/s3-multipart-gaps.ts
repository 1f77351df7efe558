import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { S3rverContext } from 's3rver';

/**
 * What s3rver leaves out of multipart uploads and S3 does: ListParts, AbortMultipartUpload, and NoSuchUpload for an
 * upload id that does not exist (s3rver would create it on UploadPart) or belongs to another key. Put in front of
 * s3rver's own router; reads and removes the upload directory s3rver keeps (`uploads/<uploadId>/<partNumber>`).
 */
export async function multipartGaps(ctx: S3rverContext, next: () => Promise<void>): Promise<void> {
  const uploadId = typeof ctx.query.uploadId === 'string' ? ctx.query.uploadId : undefined;
  const match = /^\/([^/]+)\/(.+)$/.exec(ctx.path);
  if (!uploadId || !match) return next();
  const [bucket, key] = [match[1] as string, decodeURIComponent(match[2] as string)];
  const dir = join(ctx.store.getResourcePath(bucket, undefined, 'uploads'), uploadId);
  const owner = await readFile(join(dir, 'key'), 'utf8').catch(() => null);
  if (owner !== key || !/^[0-9a-zA-Z._-]+$/.test(uploadId)) return noSuchUpload(ctx, uploadId);
  if (ctx.method === 'DELETE') {
    await rm(dir, { recursive: true, force: true });
    ctx.status = 204;
    return;
  }
  if (ctx.method === 'GET') return listParts(ctx, dir, { bucket, key, uploadId });
  return next();
}

async function listParts(ctx: S3rverContext, dir: string, upload: { bucket: string; key: string; uploadId: string }) {
  const numbers = (await readdir(dir))
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .sort((a, b) => a - b);
  const parts = await Promise.all(
    numbers.map(async (n) => {
      const [info, md5] = await Promise.all([stat(join(dir, String(n))), readFile(join(dir, `${n}.md5`), 'utf8').catch(() => '')]);
      return `<Part><PartNumber>${n}</PartNumber><LastModified>${info.mtime.toISOString()}</LastModified><ETag>"${md5}"</ETag><Size>${info.size}</Size></Part>`;
    }),
  );
  ctx.type = 'application/xml';
  ctx.body =
    '<?xml version="1.0" encoding="UTF-8"?>\n<ListPartsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    `<Bucket>${escapeXml(upload.bucket)}</Bucket><Key>${escapeXml(upload.key)}</Key><UploadId>${upload.uploadId}</UploadId>` +
    `<PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>${numbers.at(-1) ?? 0}</NextPartNumberMarker>` +
    `<MaxParts>10000</MaxParts><IsTruncated>false</IsTruncated>${parts.join('')}</ListPartsResult>`;
}

function noSuchUpload(ctx: S3rverContext, uploadId: string) {
  ctx.status = 404;
  ctx.type = 'application/xml';
  ctx.body =
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist. ' +
    'The upload ID may be invalid, or the upload may have been aborted or completed.</Message>' +
    `<UploadId>${escapeXml(uploadId)}</UploadId></Error>`;
}

const escapeXml = (value: string) => value.replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c] as string);
