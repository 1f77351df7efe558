import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Repair } from '../domain/healing';
import { logger, metrics } from '../logger';
import { healedMetric, METRICS } from '../metric-names';
import { services } from '../runtime';
import { eventHandler } from './middleware';

/** Scheduled sweep: heal stragglers and report one count per kind of repair. */
export const handler = eventHandler(async () => {
  const { repairs, gauges, scan } = await services.healing.sweep();
  for (const [repair, count] of Object.entries(repairs)) metrics.addMetric(healedMetric(repair as Repair), MetricUnit.Count, count);
  const total = Object.values(repairs).reduce((sum, n) => sum + n, 0);
  metrics.addMetric(METRICS.healedTotal, MetricUnit.Count, total);
  metrics.addMetric(METRICS.queued, MetricUnit.Count, gauges.queued);
  metrics.addMetric(METRICS.running, MetricUnit.Count, gauges.running);
  metrics.addMetric(METRICS.oldestQueuedSeconds, MetricUnit.Seconds, gauges.oldestQueuedSeconds);
  metrics.addMetric(METRICS.sweepExamined, MetricUnit.Count, scan.examined);
  metrics.addMetric(METRICS.sweepDeferred, MetricUnit.Count, scan.deferred);
  metrics.addMetric(METRICS.sweepFailed, MetricUnit.Count, scan.failed);
  logger.info('sweep finished', { repairs, total, ...gauges, ...scan });
  return { repairs, gauges, scan };
});
