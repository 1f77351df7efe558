import { InvalidRequest, NotFound, PartsMissing, UploadGone, UploadSizeMismatch } from './errors';
import type { UploadIntent } from './jobs';
import { checkParts, type MultipartPlan, partCountOf, partLength } from './multipart';
import type { JobStore, MultipartFiles } from './ports';

interface ResumablePolicy {
  /** Files larger than this go up in parts. */
  thresholdBytes: number;
  partBytes: number;
}

export interface ResumableDeps {
  store: Pick<JobStore, 'getIntent' | 'getJob'>;
  multipart: MultipartFiles;
  policy: ResumablePolicy;
  /** Part URLs are short-lived; a resuming client asks for fresh ones. */
  presignSeconds: number;
  log(message: string, fields: Record<string, unknown>): void;
}

type IntentFile = UploadIntent['files'][string];

/**
 * Big files as S3 multipart uploads: opened with the upload request, resumed from the parts S3 already holds, and
 * completed only once the server has listed those parts itself and they add up to the declared file. Completing
 * creates the object, so admission runs from the S3 event exactly as for a single POST.
 */
export function resumableUploads(deps: ResumableDeps) {
  const { store, multipart, policy } = deps;

  const isLarge = (size: number) => size > policy.thresholdBytes;

  async function open(key: string, contentType: string, size: number): Promise<MultipartPlan> {
    const uploadId = await multipart.create(key, contentType);
    return { uploadId, partSize: policy.partBytes, partCount: partCountOf(size, policy.partBytes) };
  }

  /** One URL per part number, each valid for exactly that part's length. */
  function presign(file: IntentFile, plan: MultipartPlan, partNumbers: number[]) {
    return Promise.all(
      partNumbers.map(async (partNumber) => ({
        partNumber,
        url: await multipart.presignPart(
          file.key,
          plan.uploadId,
          partNumber,
          partLength(partNumber, file.size, plan.partSize),
          deps.presignSeconds,
        ),
      })),
    );
  }

  const allParts = (plan: MultipartPlan) => Array.from({ length: plan.partCount }, (_, i) => i + 1);

  /** The user's own multipart slot, or 404 (someone else's job looks like no job). */
  async function ownedFile(userId: string, jobId: string, slot: string) {
    const intent = await store.getIntent(jobId);
    if (!intent || intent.userId !== userId) throw new NotFound();
    const file = Object.hasOwn(intent.files, slot) ? intent.files[slot] : undefined;
    if (!file) throw new NotFound();
    if (!file.multipart) throw new InvalidRequest(`"${slot}" is uploaded in one request; it has no parts.`);
    return { file, plan: file.multipart };
  }

  /** What is stored, and fresh URLs for the parts that are not. */
  async function resume(userId: string, jobId: string, slot: string) {
    const { file, plan } = await ownedFile(userId, jobId, slot);
    const parts = await multipart.listParts(file.key, plan.uploadId);
    if (!parts) throw new UploadGone();
    // A part of the wrong length is sent again (the new one replaces it).
    const good = parts.filter((part) => part.size === partLength(part.partNumber, file.size, plan.partSize));
    const stored = new Set(good.map((part) => part.partNumber));
    const urls = await presign(
      file,
      plan,
      allParts(plan).filter((n) => !stored.has(n)),
    );
    return {
      jobId,
      slot,
      multipart: { ...plan, parts: urls },
      stored: good.map(({ partNumber, size }) => ({ partNumber, size })),
    };
  }

  /** Lists the parts itself (the client's word is not taken), checks them against the declaration, then completes. */
  async function complete(userId: string, jobId: string, slot: string) {
    const { file, plan } = await ownedFile(userId, jobId, slot);
    const parts = await multipart.listParts(file.key, plan.uploadId);
    if (!parts) {
      // A retried complete: the first one went through and its object made the job.
      if (await store.getJob(jobId)) return { jobId, slot, completed: true };
      throw new UploadGone();
    }
    const verdict = checkParts(parts, file.size, plan);
    if (verdict.kind === 'missing') throw new PartsMissing(verdict.partNumbers);
    if (verdict.kind === 'wrong') {
      await multipart.abort(file.key, plan.uploadId);
      deps.log('multipart upload refused', { jobId, slot, reason: verdict.reason });
      throw new UploadSizeMismatch(verdict.reason);
    }
    await multipart.complete(file.key, plan.uploadId, parts);
    return { jobId, slot, completed: true };
  }

  return { isLarge, open, presign, allParts, resume, complete };
}

export type ResumableUploads = ReturnType<typeof resumableUploads>;
