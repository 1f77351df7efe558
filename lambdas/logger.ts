import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRIC_NAMESPACE, METRIC_SERVICE } from './metric-names';

export const logger = new Logger({ serviceName: METRIC_SERVICE });
// Metrics' own warnings go through the logger, so POWERTOOLS_LOG_LEVEL governs them too.
export const metrics = new Metrics({ namespace: METRIC_NAMESPACE, serviceName: METRIC_SERVICE, logger });
