import { CopyObjectCommand, GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { OutputRule } from '../domain/catalog';
import type { FileStore } from '../domain/ports';
import { streamOutputToS3 } from './provider-output';

const DOWNLOAD_TTL_SECONDS = 3600;

/** S3 behind the FileStore port. `presigner` may point at a different endpoint than `s3` (the local gateway). */
export class S3Files implements FileStore {
  constructor(
    private readonly s3: S3Client,
    private readonly presigner: S3Client,
    private readonly bucket: string,
    /** Null when a provider file URL may be fetched, else why not. */
    private readonly refuseFileUrl: (url: URL) => string | null,
  ) {}

  async presignUpload(key: string, contentType: string, size: number, expiresInSeconds: number) {
    // The policy pins the exact key, the content type and the size, so S3 refuses anything else.
    return createPresignedPost(this.presigner, {
      Bucket: this.bucket,
      Key: key,
      Conditions: [
        ['content-length-range', size, size],
        ['eq', '$Content-Type', contentType],
      ],
      Fields: { 'Content-Type': contentType },
      Expires: expiresInSeconds,
    });
  }

  async inspect(key: string, headBytes: number) {
    try {
      const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=0-${headBytes - 1}` }));
      const head = await object.Body?.transformToByteArray();
      return { bytes: totalSize(object.ContentRange, object.ContentLength), head: head ?? new Uint8Array() };
    } catch (error) {
      if ((error as Error).name === 'NoSuchKey') return null;
      throw error;
    }
  }

  async storedAt(key: string) {
    try {
      const head = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return head.LastModified ?? new Date(0);
    } catch (error) {
      // A HEAD has no body to name the error: a missing key is NotFound (NoSuchKey from some S3s).
      if ((error as Error).name === 'NotFound' || (error as Error).name === 'NoSuchKey') return null;
      throw error;
    }
  }

  async readRange(key: string, start: number, end: number) {
    const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${start}-${end}` }));
    return (await object.Body?.transformToByteArray()) ?? new Uint8Array();
  }

  async copy(from: string, to: string) {
    try {
      await this.s3.send(new CopyObjectCommand({ Bucket: this.bucket, Key: to, CopySource: `${this.bucket}/${from}` }));
      return true;
    } catch (error) {
      if ((error as Error).name === 'NoSuchKey') return false;
      throw error;
    }
  }

  collect(url: string, key: string, rule: OutputRule) {
    return streamOutputToS3({ s3: this.s3, bucket: this.bucket, refuse: this.refuseFileUrl, timeoutMs: 280_000 }, url, key, rule);
  }

  presignDownload(key: string, fileName?: string) {
    // Names come from downloadName (tool, job id, extension): nothing in them needs quoting.
    const ResponseContentDisposition = fileName ? `attachment; filename="${fileName}"` : undefined;
    return getSignedUrl(this.presigner, new GetObjectCommand({ Bucket: this.bucket, Key: key, ResponseContentDisposition }), {
      expiresIn: DOWNLOAD_TTL_SECONDS,
    });
  }
}

/** `bytes 0-4099/123456` → 123456; a small object answered whole has no Content-Range. */
function totalSize(contentRange: string | undefined, contentLength: number | undefined) {
  const total = contentRange?.split('/')[1];
  return total && total !== '*' ? Number(total) : (contentLength ?? 0);
}
