import { Duration, Stack } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import { EventType } from 'aws-cdk-lib/aws-s3';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { acknowledge, acknowledgeCdkHandler } from '../nag';
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
  /** S3 events the admission function failed on every attempt (Lambda's on-failure destination). */
  readonly failedEvents: Queue;
  readonly failedEventsAlarm: Alarm;

  constructor(scope: Construct, id: string, { storage, environment, stateMachine }: AdmissionProps) {
    super(scope, id);

    this.apiFunction = new GhostlessFunction(this, 'ApiFunction', { handlerFile: 'api', environment })
      .bindTable(storage.table)
      // Presigned POSTs and GETs are signed with this role, so it needs exactly what the browser does.
      .bindBucket(storage.bucket, { write: [INPUTS_PREFIX], read: [OUTPUTS_PREFIX], resumable: true })
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

    // An S3 event that fails all of Lambda's attempts (1 + 2 retries) lands here instead of vanishing. Nothing
    // consumes it automatically: the sweeper re-drives the upload from the table and S3 (lost_admission), and
    // the queue keeps the evidence for 14 days; its alarm says an admission failed for good.
    this.failedEvents = new Queue(this, 'FailedS3Events', {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledge(
      this.failedEvents,
      'SQS3',
      "This queue is the admission function's on-failure destination, i.e. a dead-letter queue itself; nothing consumes it.",
    );
    this.s3EventFunction.configureAsyncInvoke({
      onFailure: new SqsDestination(this.failedEvents),
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
    });
    this.failedEventsAlarm = new Alarm(this, 'FailedS3EventsAlarm', {
      alarmDescription:
        "An upload's S3 event failed admission on every attempt: the sweeper re-drives it (lost_admission); look at the queue",
      metric: this.failedEvents.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5), statistic: 'Maximum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    storage.bucket.addEventNotification(EventType.OBJECT_CREATED, new LambdaDestination(this.s3EventFunction), {
      prefix: INPUTS_PREFIX,
    });
    const notifications = Stack.of(this).node.children.find((child) => child.node.id.startsWith('BucketNotificationsHandler'));
    if (notifications)
      acknowledgeCdkHandler(notifications, 'The bucket-notifications handler writes the inputs/ notification rule onto the media bucket');
  }
}
