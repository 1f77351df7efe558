import { Duration } from 'aws-cdk-lib';
import { EventType } from 'aws-cdk-lib/aws-s3';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import { Construct } from 'constructs';
import { GhostlessFunction } from './ghostless-function';
import { INPUTS_PREFIX, OUTPUTS_PREFIX, type Storage } from './storage';

export interface AdmissionProps {
  storage: Storage;
  /** Days a terminal job stays in the table before TTL removes it. */
  jobRetentionDays?: number;
}

/** Upload first, job after: the api Lambda hands out presigned POSTs, S3 events admit the job. */
export class Admission extends Construct {
  readonly apiFunction: GhostlessFunction;
  readonly s3EventFunction: GhostlessFunction;

  constructor(scope: Construct, id: string, { storage, jobRetentionDays = 30 }: AdmissionProps) {
    super(scope, id);
    const environment = { JOB_RETENTION_DAYS: String(jobRetentionDays) };

    this.apiFunction = new GhostlessFunction(this, 'ApiFunction', { handlerFile: 'api', environment })
      .bindTable(storage.table, 'readWrite')
      // Presigned POSTs and GETs are signed with this role, so it needs exactly what the browser does.
      .bindBucket(storage.bucket, { write: [INPUTS_PREFIX], read: [OUTPUTS_PREFIX] });

    this.s3EventFunction = new GhostlessFunction(this, 'S3EventFunction', {
      handlerFile: 's3-event',
      environment,
      timeout: Duration.seconds(30),
    })
      .bindTable(storage.table, 'readWrite')
      .bindBucket(storage.bucket, { read: [INPUTS_PREFIX] });

    storage.bucket.addEventNotification(EventType.OBJECT_CREATED, new LambdaDestination(this.s3EventFunction), {
      prefix: INPUTS_PREFIX,
    });
  }
}
