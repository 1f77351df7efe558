/** The arithmetic of a resumable (S3 multipart) upload: how a declared size is cut, and whether stored parts add up. */

/** S3's smallest part (all but the last); the presigned part URLs pin each part's exact length. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** S3 aborts an incomplete multipart upload a day after it starts (storage.ts lifecycle): the resumable window. */
export const RESUMABLE_WINDOW_SECONDS = 86_400;

export interface MultipartPlan {
  uploadId: string;
  partSize: number;
  partCount: number;
}

export interface StoredPart {
  partNumber: number;
  size: number;
  etag: string;
}

export const partCountOf = (size: number, partSize: number) => Math.ceil(size / partSize);

/** The exact length of part `n` (1-based) of a `size`-byte file: every part is `partSize` but the last. */
export const partLength = (n: number, size: number, partSize: number) => Math.min(partSize, size - (n - 1) * partSize);

export type PartsVerdict = { kind: 'complete' } | { kind: 'missing'; partNumbers: number[] } | { kind: 'wrong'; reason: string };

/**
 * Compares what S3 holds with what was declared. A part of the wrong length or number means the bytes are not the
 * declared file (the upload is aborted); parts merely missing can still be sent.
 */
export function checkParts(parts: readonly StoredPart[], size: number, plan: Pick<MultipartPlan, 'partSize' | 'partCount'>): PartsVerdict {
  for (const part of parts) {
    if (part.partNumber < 1 || part.partNumber > plan.partCount) {
      return { kind: 'wrong', reason: `Part ${part.partNumber} is beyond the ${plan.partCount} parts of this file.` };
    }
    const expected = partLength(part.partNumber, size, plan.partSize);
    if (part.size !== expected) {
      return { kind: 'wrong', reason: `Part ${part.partNumber} has ${part.size} bytes where ${expected} were declared.` };
    }
  }
  const stored = new Set(parts.map((part) => part.partNumber));
  const missing = Array.from({ length: plan.partCount }, (_, i) => i + 1).filter((n) => !stored.has(n));
  if (missing.length > 0) return { kind: 'missing', partNumbers: missing };
  const total = parts.reduce((sum, part) => sum + part.size, 0);
  if (total !== size) return { kind: 'wrong', reason: `The parts add up to ${total} bytes, not the declared ${size}.` };
  return { kind: 'complete' };
}
