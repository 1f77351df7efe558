import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoStore } from './adapters/dynamo-store';
import { S3Files } from './adapters/s3-files';
import type { Config } from './config';
import { admission } from './domain/admission';
import { queries } from './domain/queries';
import { jobViews } from './domain/views';
import { logger } from './logger';

/** Wires the domain to its adapters. Handlers use the singleton in `runtime.ts`; tests build their own. */
export function buildServices(config: Config) {
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
    marshallOptions: { removeUndefinedValues: true },
  });
  const s3Options = { forcePathStyle: config.s3ForcePathStyle, requestChecksumCalculation: 'WHEN_REQUIRED' } as const;
  const s3 = new S3Client(s3Options);
  const presigner = config.s3PublicEndpoint ? new S3Client({ ...s3Options, endpoint: config.s3PublicEndpoint }) : s3;

  const store = new DynamoStore(doc, config.tableName, config.jobRetentionDays);
  const files = new S3Files(s3, presigner, config.bucketName);
  const views = jobViews(store, files);
  return {
    store,
    credits: store,
    admission: admission({
      store,
      ledger: store,
      files,
      views,
      clock: { now: () => new Date() },
      limits: config.limits,
      uploadTtlSeconds: config.uploadTtlSeconds,
      newId: randomUUID,
      log: (message, fields) => logger.info(message, fields),
    }),
    queries: queries(store, store, views),
  };
}

export type Services = ReturnType<typeof buildServices>;
