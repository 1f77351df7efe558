import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import { drain, S3Error } from './s3-errors';
import { type CheckedPostForm, checkContentLength, checkPostForm, MAX_POST_BYTES, type PostFormInput } from './s3-post-policy';
import type { SignerContext } from './s3-presigned-url';
import { storeObject } from './s3-upstream';

/** Form fields before the file may not exceed this (S3: MaxPostPreDataLengthExceeded). */
const MAX_PRE_DATA_BYTES = 20 * 1024;

export interface PostUploadContext extends SignerContext {
  upstream: URL;
  prefix: string;
  /** Where uploads are staged while their size is checked. */
  tmpDir: string;
  /** IAM: throws AccessDenied unless the policy's signer may put this key. */
  authorize: (accessKeyId: string, action: string, bucket: string, key: string) => Promise<void>;
}

/** A browser-based POST upload: the form's policy and signature, the file's size, then s3rver stores it. Throws S3Error. */
export async function handlePostUpload(req: IncomingMessage, res: ServerResponse, bucket: string, ctx: PostUploadContext): Promise<void> {
  const { keys, region, now } = ctx;
  const formInput = (fields: [string, string][], filename: string | undefined): PostFormInput => ({
    bucket,
    fields,
    filename,
    keys,
    region,
    now: now(),
  });
  if (!/^multipart\/form-data/i.test(req.headers['content-type'] ?? '')) {
    throw new S3Error(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', {
      Condition: 'Bucket POST must be of the enclosure-type-multipart/form-data',
    });
  }
  const staged = join(ctx.tmpDir, `ghostless-post-${randomUUID()}`);
  try {
    const upload = await receiveForm(req, staged, formInput);
    const checked = upload.checked ?? checkPostForm(formInput(upload.fields, undefined));
    if (!upload.fileSeen) {
      throw new S3Error(400, 'InvalidArgument', 'POST requires exactly one file upload per request.', {
        ArgumentName: 'file',
        ArgumentValue: 0,
      });
    }
    checkContentLength(upload.size, checked.lengthRange);
    await ctx.authorize(checked.accessKeyId, 's3:PutObject', bucket, checked.key);
    await storeObject(req, res, ctx, bucket, checked, staged, upload.filename);
  } finally {
    await rm(staged, { force: true });
  }
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
function receiveForm(
  req: IncomingMessage,
  staged: string,
  formInput: (fields: [string, string][], filename: string | undefined) => PostFormInput,
): Promise<ReceivedForm> {
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
        new S3Error(400, 'MalformedPOSTRequest', `The body of your POST request is not well-formed multipart/form-data. ${String(error)}`),
      );
      return;
    }

    const onFile = (stream: Readable, filename: string | undefined) => {
      received.fileSeen = true;
      received.filename = filename;
      try {
        received.checked = checkPostForm(formInput(received.fields, filename));
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
        failure ??= new S3Error(400, 'MaxPostPreDataLengthExceeded', 'Your POST request fields preceeding the upload file was too large.', {
          MaxPostPreDataLength: MAX_PRE_DATA_BYTES,
        });
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
