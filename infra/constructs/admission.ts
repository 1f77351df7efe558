import { Duration, Stack } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { EventType } from 'aws-cdk-lib/aws-s3';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import { Construct } from 'constructs';
import { acknowledgeCdkHandler } from '../nag';
import { GhostlessFunction } from './ghostless-function';
import { ADMITTED_PREFIX, INPUTS_PREFIX, OUTPUTS_PREFIX, type Storage } from './storage';

export interface AdmissionProps {
  storage: Storage;
  /** Environment shared by every function (table, limits, provider, state machine). */
  environment: Record<string, string>;
  stateMachine: { arn: string; executions: string };
}

/** Upload first, job after: the api Lambda hands out presigned POSTs, S3 events admit the job. */
export class Admission extends Construct {
  readonly apiFunction: GhostlessFunction;
  readonly s3EventFunction: GhostlessFunction;

  constructor(scope: Construct, id: string, { storage, environment, stateMachine }: AdmissionProps) {
    super(scope, id);

    this.apiFunction = new GhostlessFunction(this, 'ApiFunction', { handlerFile: 'api', environment })
      .bindTable(storage.table)
      // Presigned POSTs and GETs are signed with this role, so it needs exactly what the browser does.
      .bindBucket(storage.bucket, { write: [INPUTS_PREFIX], read: [OUTPUTS_PREFIX] })
      // Cancel stops the job's execution; cancel, release and the provider's webhook wake parked executions.
      .allowTaskResponses(stateMachine.arn)
      .allowOnExecutions(['states:StopExecution'], stateMachine.executions);

    this.s3EventFunction = new GhostlessFunction(this, 'S3EventFunction', {
      handlerFile: 's3-event',
      environment,
      timeout: Duration.seconds(30),
    })
      .bindTable(storage.table)
      // Copies each upload to its immutable admitted/ key and inspects that copy: what is checked is what runs.
      .bindBucket(storage.bucket, { read: [INPUTS_PREFIX, ADMITTED_PREFIX], write: [ADMITTED_PREFIX] });
    this.s3EventFunction.addToRolePolicy(new PolicyStatement({ actions: ['states:StartExecution'], resources: [stateMachine.arn] }));

    storage.bucket.addEventNotification(EventType.OBJECT_CREATED, new LambdaDestination(this.s3EventFunction), {
      prefix: INPUTS_PREFIX,
    });
    const notifications = Stack.of(this).node.children.find((child) => child.node.id.startsWith('BucketNotificationsHandler'));
    if (notifications)
      acknowledgeCdkHandler(notifications, 'The bucket-notifications handler writes the inputs/ notification rule onto the media bucket');
  }
}
