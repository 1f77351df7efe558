import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { S3Event } from 'aws-lambda';
import { checkpoint } from '../domain/faults';
import { metrics } from '../logger';
import { services } from '../runtime';
import { eventHandler } from './middleware';

/** S3 ObjectCreated → admission. S3 URL-encodes keys (spaces as '+'). Throws to let Lambda retry. */
export const handler = eventHandler(async (event: S3Event) => {
  for (const record of event.Records) {
    const key = decodeURIComponent(record.s3.object.key.replace(/\+/g, ' '));
    await checkpoint('s3-event:received', key);
    const outcome = await services.admission.onInputStored(key);
    metrics.addMetric(`input_${outcome}`, MetricUnit.Count, 1);
  }
});
