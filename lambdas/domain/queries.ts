import type { CreditsService } from './credits';
import { InvalidRequest, NotFound } from './errors';
import { isTerminal, type JobRecord } from './jobs';
import type { CreditLedger, JobStore } from './ports';
import type { JobViews } from './views';

const MAX_PAGE = 100;

/** Read-side use cases. A user only ever sees their own jobs: anyone else's id is a 404. */
export function queries(store: JobStore, ledger: CreditLedger, views: JobViews, credits: CreditsService) {
  async function ownJob(userId: string, jobId: string): Promise<JobRecord> {
    const job = await store.getJob(jobId);
    if (!job || job.userId !== userId) throw new NotFound('No job with this id.');
    return job;
  }

  return {
    ownJob,
    async getJob(userId: string, jobId: string) {
      return views.toJob(await ownJob(userId, jobId));
    },
    /** The job holding the user's lock; there is at most one, so "running before queued" holds by construction. */
    async activeJob(userId: string) {
      const jobId = await ledger.activeJobId(userId);
      const job = jobId ? await store.getJob(jobId) : null;
      return job && !isTerminal(job.status) ? views.toJob(job) : null;
    },
    async listJobs(userId: string, query: { limit?: string; cursor?: string }) {
      // Digits only: Number() would also take ' 5', '1e1', '0x10' and '5.0'.
      const limit = query.limit === undefined ? 20 : /^\d{1,3}$/.test(query.limit) ? Number(query.limit) : Number.NaN;
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
        throw new InvalidRequest(`limit must be a whole number from 1 to ${MAX_PAGE}.`);
      }
      const page = await store.listJobs(userId, limit, query.cursor);
      return { jobs: await Promise.all(page.jobs.map(views.toJob)), nextCursor: page.nextCursor };
    },
    async credits(userId: string) {
      return { balance: await credits.balance(userId) };
    },
    async ledger(userId: string, query: { limit?: string; cursor?: string }) {
      return credits.entries(userId, query);
    },
  };
}
