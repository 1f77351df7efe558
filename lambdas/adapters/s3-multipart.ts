import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListPartsCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { StoredPart } from '../domain/multipart';
import type { MultipartFiles } from '../domain/ports';

const isGone = (error: unknown) => (error as Error).name === 'NoSuchUpload';

/** S3 multipart uploads behind the MultipartFiles port; `presigner` may point at another endpoint (the local gateway). */
export class S3Multipart implements MultipartFiles {
  constructor(
    private readonly s3: S3Client,
    private readonly presigner: S3Client,
    private readonly bucket: string,
  ) {}

  async create(key: string, contentType: string) {
    const { UploadId } = await this.s3.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: contentType }));
    if (!UploadId) throw new Error(`S3 gave no upload id for ${key}`);
    return UploadId;
  }

  presignPart(key: string, uploadId: string, partNumber: number, length: number, expiresIn: number) {
    // content-length is signed: S3 refuses a body of any other length, so every part is the declared size.
    const command = new UploadPartCommand({
      Bucket: this.bucket,
      Key: key,
      UploadId: uploadId,
      PartNumber: partNumber,
      ContentLength: length,
    });
    return getSignedUrl(this.presigner, command, { expiresIn, signableHeaders: new Set(['content-length']) });
  }

  async listParts(key: string, uploadId: string) {
    const parts: StoredPart[] = [];
    let marker: string | undefined;
    try {
      do {
        const page = await this.s3.send(
          new ListPartsCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker }),
        );
        for (const part of page.Parts ?? []) {
          parts.push({ partNumber: part.PartNumber ?? 0, size: part.Size ?? 0, etag: part.ETag ?? '' });
        }
        marker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
      } while (marker);
    } catch (error) {
      if (isGone(error)) return null;
      throw error;
    }
    return parts;
  }

  async complete(key: string, uploadId: string, parts: readonly StoredPart[]) {
    const sorted = [...parts].sort((a, b) => a.partNumber - b.partNumber);
    await this.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: sorted.map((part) => ({ PartNumber: part.partNumber, ETag: part.etag })) },
      }),
    );
  }

  async abort(key: string, uploadId: string) {
    try {
      await this.s3.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }));
    } catch (error) {
      if (!isGone(error)) throw error;
    }
  }
}
