import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { drain, S3Error, sendS3Error } from './s3-errors';
import { checkPartRequest, forwardPart, isPartUpload } from './s3-part-upload';
import { handlePostUpload } from './s3-post-upload';
import { checkPresignedUrl } from './s3-presigned-url';
import { forwardGet } from './s3-upstream';
import type { Credentials } from './sigv4';

/**
 * A thin S3 front for s3rver that enforces what s3rver does not: SigV4 POST policies for browser uploads,
 * presigned-URL signatures/expiry for downloads (`s3-presigned-url.ts`) and for the parts of resumable uploads
 * (`s3-part-upload.ts`); POST uploads are `s3-post-upload.ts`. Presigned URLs in the local stack point here
 * (S3_PUBLIC_ENDPOINT=<origin>/s3, path style), so the browser meets the same rejections it would on AWS.
 */
export interface S3GatewayOptions {
  /** s3rver's own endpoint, e.g. http://127.0.0.1:4568. */
  s3Endpoint: string;
  /** The one key pair the gateway knows; defaults to s3rver's S3RVER/S3RVER. */
  credentials?: Credentials;
  /** Every key pair that may sign (default: `credentials` alone). */
  keys?: (accessKeyId: string) => Credentials | undefined;
  /** IAM: may the signer of a presigned request do this (`s3:GetObject`/`s3:PutObject` on an object ARN)? Default yes. */
  authorize?: (accessKeyId: string, action: string, resource: string) => Promise<boolean> | boolean;
  region?: string;
  /** Path prefix the gateway is mounted at; defaults to `/s3`. */
  prefix?: string;
  /** Where uploads are staged while their size is checked; defaults to the OS temp dir. */
  tmpDir?: string;
  /** Injectable clock for tests. */
  now?: () => Date;
}

export type S3Gateway = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export function createS3Gateway(options: S3GatewayOptions): S3Gateway {
  const credentials = options.credentials ?? { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  const keys = options.keys ?? ((accessKeyId: string) => (accessKeyId === credentials.accessKeyId ? credentials : undefined));
  /** S3 evaluates a presigned request with the permissions of whoever signed it, at the time of the request. */
  const authorize = async (accessKeyId: string, action: string, bucket: string, key: string) => {
    if (options.authorize && !(await options.authorize(accessKeyId, action, `arn:aws:s3:::${bucket}/${key}`))) {
      throw new S3Error(403, 'AccessDenied', 'Access Denied');
    }
  };
  const region = options.region ?? 'us-east-1';
  const prefix = (options.prefix ?? '/s3').replace(/\/$/, '');
  const tmpDir = options.tmpDir ?? tmpdir();
  const now = options.now ?? (() => new Date());
  const upstream = new URL(options.s3Endpoint);
  const context = { keys, region, now, upstream, prefix, tmpDir, authorize };

  return async (req, res) => {
    const method = req.method ?? 'GET';
    try {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const rawPath = q === -1 ? url : url.slice(0, q);
      const rawQuery = q === -1 ? '' : url.slice(q + 1);
      if (!rawPath.startsWith(`${prefix}/`)) throw new S3Error(404, 'NoSuchBucket', 'The specified bucket does not exist');
      const rest = rawPath.slice(prefix.length + 1);
      const slash = rest.indexOf('/');
      const bucket = decodeURIComponent(slash === -1 ? rest : rest.slice(0, slash));
      const rawKey = slash === -1 ? '' : rest.slice(slash + 1);
      if (!bucket) throw new S3Error(403, 'AccessDenied', 'Access Denied');

      if (method === 'POST' && rawKey === '') {
        await handlePostUpload(req, res, bucket, context);
      } else if ((method === 'GET' || method === 'HEAD') && rawKey !== '') {
        await authorize(await checkPresignedUrl(req, rawPath, rawQuery, context), 's3:GetObject', bucket, decodeURIComponent(rawKey));
        await forwardGet(req, res, upstream, `/${rest}`, rawQuery);
      } else if (method === 'PUT' && rawKey !== '' && isPartUpload(rawQuery)) {
        // A resumable upload's part: its own signature (part number, upload id, length), then S3's body checks.
        const signer = await checkPresignedUrl(req, rawPath, rawQuery, context);
        const length = checkPartRequest(req, rawQuery);
        await authorize(signer, 's3:PutObject', bucket, decodeURIComponent(rawKey));
        await forwardPart(req, res, { upstream, path: `/${rest}`, rawQuery, length, tmpDir });
      } else if (method === 'GET' || method === 'HEAD') {
        await checkPresignedUrl(req, rawPath, rawQuery, context); // bucket-level reads need a signature too…
        throw new S3Error(403, 'AccessDenied', 'Access Denied'); // …and the local stack never presigns them
      } else {
        throw new S3Error(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.', {
          Method: method,
          ResourceType: rawKey ? 'OBJECT' : 'BUCKET',
        });
      }
    } catch (error) {
      drain(req);
      if (error instanceof S3Error) {
        sendS3Error(res, error, method);
      } else {
        console.error('[s3-gateway]', error);
        sendS3Error(res, new S3Error(500, 'InternalError', 'We encountered an internal error. Please try again.'), method);
      }
    }
  };
}
