import type { ToolId } from '../../lambdas/domain/catalog';
import type { Job } from '../../lambdas/domain/jobs';

/**
 * How long, roughly: from the run times of this user's recent finished jobs (what the API already gives),
 * the median per tool (robust to one stuck or instant run), else the median over all tools. No data, no
 * estimate: it is never made up.
 */

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

export function typicalRunMs(jobs: Job[], tool: ToolId): number | null {
  const runs = jobs
    .filter((j) => j.status === 'succeeded' && j.startedAt && j.completedAt)
    .map((j) => ({ tool: j.tool, ms: new Date(j.completedAt as string).getTime() - new Date(j.startedAt as string).getTime() }))
    .filter((r) => r.ms >= 0);
  const same = runs.filter((r) => r.tool === tool).map((r) => r.ms);
  if (same.length) return median(same);
  return runs.length ? median(runs.map((r) => r.ms)) : null;
}

/** Position p with c slots: about ceil(p / c) runs finish before this one starts. */
export const waitMs = (position: number, capacity: number, typical: number) => Math.ceil(position / Math.max(1, capacity)) * typical;

/** Time left for a running job; null once it runs longer than usual. */
export const leftMs = (elapsed: number, typical: number) => (elapsed < typical ? typical - elapsed : null);
