import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

export const logger = new Logger({ serviceName: 'ghostless' });
// Metrics' own warnings go through the logger, so POWERTOOLS_LOG_LEVEL governs them too.
export const metrics = new Metrics({ namespace: 'Ghostless', serviceName: 'ghostless', logger });
