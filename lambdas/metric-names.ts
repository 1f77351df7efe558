import { REPAIRS, type Repair } from './domain/healing';
import type { JobStatus } from './domain/jobs';

/**
 * The custom metrics the functions emit (CloudWatch namespace and `service` dimension, as Powertools writes them):
 * the handlers emit them and the dashboard and alarms (infra/constructs/healing.ts) chart them, by these names only.
 */
export const METRIC_NAMESPACE = 'Ghostless';
export const METRIC_SERVICE = 'ghostless';

export const METRICS = {
  /** Jobs waiting and running, as the sweeper counted them (gauges, once a sweep). */
  queued: 'queued',
  running: 'running',
  oldestQueuedSeconds: 'oldest_queued_seconds',
  /** Milliseconds from a grant seeing a free slot to the next job's execution woken (lambdas/domain/queue.ts). */
  handoffMs: 'handoff_ms',
  /** Repairs of one sweep, all kinds together. */
  healedTotal: 'healed_total',
  /** Live jobs one sweep examined, and those whose execution it could not check this time (budget or throttle). */
  sweepExamined: 'sweep_examined',
  sweepDeferred: 'sweep_deferred',
  sweepFailed: 'sweep_failed',
} as const;

/** Repairs of one kind in one sweep. */
export const healedMetric = (repair: Repair) => `healed_${repair}`;
export const HEALED_METRICS = REPAIRS.map(healedMetric);
/** Finished jobs by outcome (dimension `tool`). */
export const jobOutcomeMetric = (status: Extract<JobStatus, 'succeeded' | 'failed' | 'cancelled'>) => `job_${status}`;
