import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { logger, metrics } from '../logger';
import { services } from '../runtime';
import { eventHandler } from './middleware';

/** Scheduled sweep: heal stragglers and report one count per kind of repair. */
export const handler = eventHandler(async () => {
  const { repairs, gauges } = await services.healing.sweep();
  for (const [repair, count] of Object.entries(repairs)) metrics.addMetric(`healed_${repair}`, MetricUnit.Count, count);
  const total = Object.values(repairs).reduce((sum, n) => sum + n, 0);
  metrics.addMetric('healed_total', MetricUnit.Count, total);
  metrics.addMetric('queued', MetricUnit.Count, gauges.queued);
  metrics.addMetric('running', MetricUnit.Count, gauges.running);
  metrics.addMetric('oldest_queued_seconds', MetricUnit.Seconds, gauges.oldestQueuedSeconds);
  logger.info('sweep finished', { repairs, total, ...gauges });
  return { repairs, gauges };
});
