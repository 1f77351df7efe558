import { EXTENSIONS } from './catalog';
import type { Job, JobRecord } from './jobs';
import type { FileStore, JobStore } from './ports';

export type JobViews = ReturnType<typeof jobViews>;

/** Turns a stored job into the API's `Job`: exact queue position and presigned output URLs. */
export function jobViews(store: JobStore, files: FileStore) {
  async function toJob(record: JobRecord): Promise<Job> {
    return {
      jobId: record.jobId,
      tool: record.tool,
      status: record.status,
      position: record.status === 'queued' ? await store.queuePosition(record) : null,
      params: record.params,
      createdAt: record.createdAt,
      startedAt: record.startedAt,
      completedAt: record.completedAt,
      creditCost: record.creditCost,
      refunded: record.refunded,
      error: record.error,
      outputs: await Promise.all(
        record.outputs.map(async (o, i) => ({
          url: await files.presignDownload(o.key, downloadName(record, o.contentType, i)),
          contentType: o.contentType,
          bytes: o.bytes,
        })),
      ),
    };
  }
  return { toJob };
}

/** What a result is saved as: `ghostless-upscale-image-1a2b3c4d.png` (plus `-2`, `-3`… when a job has several). */
export function downloadName(record: { tool: string; jobId: string; outputs: readonly unknown[] }, contentType: string, index: number) {
  const suffix = record.outputs.length > 1 ? `-${index + 1}` : '';
  return `ghostless-${record.tool}-${record.jobId.slice(0, 8)}${suffix}.${EXTENSIONS[contentType] ?? 'bin'}`;
}
