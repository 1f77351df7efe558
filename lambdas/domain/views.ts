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
        record.outputs.map(async (o) => ({ url: await files.presignDownload(o.key), contentType: o.contentType, bytes: o.bytes })),
      ),
    };
  }
  return { toJob };
}
