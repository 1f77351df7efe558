import { randomUUID } from 'node:crypto';
import { createWriteStream, openAsBlob } from 'node:fs';
import { rm } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { S3Error, sendS3Error } from './s3-errors';
import { checkPartRequest, forwardPart, isPartUpload } from './s3-part-upload';
import { type CheckedPostForm, checkContentLength, checkPostForm, MAX_POST_BYTES } from './s3-post-policy';
import { type Credentials, parseAmzDate, parseCredential, parseRawQuery, resign, sameSignature } from './sigv4';

/**
 * A thin S3 front for s3rver that enforces what s3rver does not: SigV4 POST policies for browser uploads,
 * presigned-URL signatures/expiry for downloads and for the parts of resumable uploads (`s3-part-upload.ts`). Presigned URLs in the local stack point here
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

/** Form fields before the file may not exceed this (S3: MaxPostPreDataLengthExceeded). */
const MAX_PRE_DATA_BYTES = 20 * 1024;
/** Longest validity S3 accepts for a presigned URL. */
const MAX_PRESIGNED_EXPIRES = 604_800;
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
  const tmp = options.tmpDir ?? tmpdir();
  const now = options.now ?? (() => new Date());
  const upstream = new URL(options.s3Endpoint);

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
        await handlePost(req, res, bucket);
      } else if ((method === 'GET' || method === 'HEAD') && rawKey !== '') {
        await authorize(await checkPresignedUrl(req, rawPath, rawQuery), 's3:GetObject', bucket, decodeURIComponent(rawKey));
        await forwardGet(req, res, `/${rest}`, rawQuery);
      } else if (method === 'PUT' && rawKey !== '' && isPartUpload(rawQuery)) {
        // A resumable upload's part: its own signature (part number, upload id, length), then S3's body checks.
        const signer = await checkPresignedUrl(req, rawPath, rawQuery);
        const length = checkPartRequest(req, rawQuery);
        await authorize(signer, 's3:PutObject', bucket, decodeURIComponent(rawKey));
        await forwardPart(req, res, { upstream, path: `/${rest}`, rawQuery, length, tmpDir: tmp });
      } else if (method === 'GET' || method === 'HEAD') {
        await checkPresignedUrl(req, rawPath, rawQuery); // bucket-level reads need a signature too…
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

  /** Verifies a presigned (query-string SigV4) request the way S3 does. Throws S3Error. */
  async function checkPresignedUrl(req: IncomingMessage, rawPath: string, rawQuery: string): Promise<string> {
    const pairs = parseRawQuery(rawQuery);
    const param = (name: string) => pairs.find(([n]) => n === name)?.[1];
    if (param('X-Amz-Algorithm') === undefined) {
      // No credentials at all: an anonymous read of a private bucket.
      throw new S3Error(403, 'AccessDenied', 'Access Denied');
    }
    const required = ['X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature'];
    const missing = required.filter((name) => param(name) === undefined);
    if (param('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256' || missing.length > 0) {
      throw new S3Error(
        400,
        'AuthorizationQueryParametersError',
        'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
      );
    }
    const credential = parseCredential(param('X-Amz-Credential') as string);
    const signedAt = parseAmzDate(param('X-Amz-Date') as string);
    const expires = Number(param('X-Amz-Expires'));
    if (!credential || !signedAt) {
      throw new S3Error(400, 'AuthorizationQueryParametersError', 'Error parsing the X-Amz-Credential or X-Amz-Date parameter.');
    }
    if (!Number.isSafeInteger(expires) || expires < 0) {
      throw new S3Error(400, 'AuthorizationQueryParametersError', 'X-Amz-Expires should be a number');
    }
    if (expires > MAX_PRESIGNED_EXPIRES) {
      throw new S3Error(400, 'AuthorizationQueryParametersError', 'X-Amz-Expires must be less than a week (in seconds) that is 604800');
    }
    const signer = keys(credential.accessKeyId);
    if (!signer) {
      throw new S3Error(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', {
        AWSAccessKeyId: credential.accessKeyId,
      });
    }
    if (credential.region !== region || credential.service !== 's3') {
      throw new S3Error(
        400,
        'AuthorizationQueryParametersError',
        `Error parsing the X-Amz-Credential parameter; the region '${credential.region}' is wrong; expecting '${region}'`,
        { Region: region },
      );
    }
    const current = now();
    const expiresAt = new Date(signedAt.getTime() + expires * 1000);
    if (current.getTime() > expiresAt.getTime()) {
      throw new S3Error(403, 'AccessDenied', 'Request has expired', {
        'X-Amz-Expires': expires,
        Expires: expiresAt.toISOString(),
        ServerTime: current.toISOString(),
      });
    }
    const signedHeaders = new Set((param('X-Amz-SignedHeaders') as string).toLowerCase().split(';'));
    const headers: Record<string, string> = {};
    for (const name of signedHeaders) {
      const value = req.headers[name];
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
    }
    const {
      signature: expected,
      stringToSign,
      canonicalRequest,
    } = await resign({
      method: req.method ?? 'GET',
      path: rawPath,
      query: rawQuery,
      headers,
      credentials: signer,
      region: credential.region,
      service: credential.service,
      signingDate: signedAt,
      signedHeaders,
      presignedFor: expires,
    });
    if (!sameSignature(expected, param('X-Amz-Signature') as string)) {
      throw new S3Error(
        403,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
        { AWSAccessKeyId: credential.accessKeyId, StringToSign: stringToSign, CanonicalRequest: canonicalRequest },
      );
    }
    return credential.accessKeyId;
  }

  /**
   * Streams an object from s3rver, keeping conditional/range headers. S3's response-* overrides are applied
   * here (s3rver refuses them on requests it considers anonymous).
   */
  function forwardGet(req: IncomingMessage, res: ServerResponse, path: string, rawQuery: string): Promise<void> {
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

  async function handlePost(req: IncomingMessage, res: ServerResponse, bucket: string): Promise<void> {
    if (!/^multipart\/form-data/i.test(req.headers['content-type'] ?? '')) {
      throw new S3Error(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', {
        Condition: 'Bucket POST must be of the enclosure-type-multipart/form-data',
      });
    }
    const staged = join(tmp, `ghostless-post-${randomUUID()}`);
    try {
      const upload = await receiveForm(req, bucket, staged);
      const checked = upload.checked ?? checkPostForm(formInput(bucket, upload.fields, undefined));
      if (!upload.fileSeen) {
        throw new S3Error(400, 'InvalidArgument', 'POST requires exactly one file upload per request.', {
          ArgumentName: 'file',
          ArgumentValue: 0,
        });
      }
      checkContentLength(upload.size, checked.lengthRange);
      await authorize(checked.accessKeyId, 's3:PutObject', bucket, checked.key);
      await storeObject(req, res, bucket, checked, staged, upload.filename);
    } finally {
      await rm(staged, { force: true });
    }
  }

  function formInput(bucket: string, fields: [string, string][], filename: string | undefined) {
    return { bucket, fields, filename, keys, region, now: now() };
  }

  interface ReceivedForm {
    fields: [string, string][];
    fileSeen: boolean;
    filename?: string;
    size: number;
    checked?: CheckedPostForm;
  }

  /**
   * Reads the multipart form: fields up to the `file` part (S3 ignores what follows), checks the policy as
   * soon as the file starts, then stages the file while counting its bytes (bytes past the allowed maximum
   * are counted but not kept). Rejects with the first S3Error after the whole body has been read.
   */
  function receiveForm(req: IncomingMessage, bucket: string, staged: string): Promise<ReceivedForm> {
    return new Promise((resolve, reject) => {
      const received: ReceivedForm = { fields: [], fileSeen: false, size: 0 };
      let failure: unknown;
      let preDataBytes = 0;
      let fileDone: Promise<void> = Promise.resolve();
      let bb: busboy.Busboy;
      try {
        // latin1 keeps a text `file` part's bytes intact; ordinary fields are re-decoded as UTF-8 below.
        bb = busboy({
          headers: req.headers,
          defCharset: 'latin1',
          limits: { fieldSize: 64 * 1024 * 1024, files: 10, fields: 1000, parts: 1010 },
        });
      } catch (error) {
        reject(
          new S3Error(
            400,
            'MalformedPOSTRequest',
            `The body of your POST request is not well-formed multipart/form-data. ${String(error)}`,
          ),
        );
        return;
      }

      const onFile = (stream: Readable, filename: string | undefined) => {
        received.fileSeen = true;
        received.filename = filename;
        try {
          received.checked = checkPostForm(formInput(bucket, received.fields, filename));
        } catch (error) {
          failure ??= error;
          stream.resume();
          return;
        }
        const max = Math.min(received.checked.lengthRange?.max ?? MAX_POST_BYTES, MAX_POST_BYTES);
        const counter = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            received.size += chunk.length;
            done(null, received.size <= max ? chunk : undefined);
          },
        });
        fileDone = pipeline(stream, counter, createWriteStream(staged)).catch((error) => {
          failure ??= error;
        });
      };

      bb.on('field', (name, value, info) => {
        if (received.fileSeen) return;
        if (name.toLowerCase() === 'file') {
          if (info.valueTruncated) failure ??= new S3Error(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size');
          onFile(Readable.from([Buffer.from(value, 'latin1')]), undefined);
          return;
        }
        const text = Buffer.from(value, 'latin1').toString('utf8');
        preDataBytes += Buffer.byteLength(name) + Buffer.byteLength(text);
        if (preDataBytes > MAX_PRE_DATA_BYTES) {
          failure ??= new S3Error(
            400,
            'MaxPostPreDataLengthExceeded',
            'Your POST request fields preceeding the upload file was too large.',
            { MaxPostPreDataLength: MAX_PRE_DATA_BYTES },
          );
        }
        received.fields.push([name, text]);
      });
      bb.on('file', (name, stream, info) => {
        if (received.fileSeen || name.toLowerCase() !== 'file') {
          stream.resume();
          return;
        }
        onFile(stream, info.filename);
      });
      bb.once('close', () => {
        fileDone.then(() => (failure ? reject(failure) : resolve(received)));
      });
      bb.once('error', (error) => {
        req.unpipe(bb);
        drain(req);
        fileDone.then(() =>
          reject(
            failure ??
              new S3Error(
                400,
                'MalformedPOSTRequest',
                `The body of your POST request is not well-formed multipart/form-data. ${String(error)}`,
              ),
          ),
        );
      });
      req.pipe(bb);
    });
  }

  /** Hands the checked upload to s3rver as a POST, so it stores the object and emits ObjectCreated:Post. */
  async function storeObject(
    req: IncomingMessage,
    res: ServerResponse,
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
}

/** Discards the rest of a request body so the client can read our answer. */
function drain(req: IncomingMessage): void {
  if (!req.readableEnded) req.resume();
}
