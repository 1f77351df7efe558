import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';

export const logger = new Logger({ serviceName: 'ghostless' });
export const metrics = new Metrics({ namespace: 'Ghostless', serviceName: 'ghostless' });
