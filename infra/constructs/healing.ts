import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Dashboard, GraphWidget, MathExpression, Metric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { StateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { TOOLS, type ToolId } from '../../lambdas/domain/catalog';
import { HEALED_METRICS, jobOutcomeMetric, METRIC_NAMESPACE, METRIC_SERVICE, METRICS } from '../../lambdas/metric-names';
import { GhostlessFunction } from './ghostless-function';
import { ADMITTED_PREFIX, INPUTS_PREFIX, OUTPUTS_PREFIX, type Storage } from './storage';

export interface HealingProps {
  storage: Storage;
  environment: Record<string, string>;
  stateMachine: StateMachine;
  stateMachineArns: { arn: string; executions: string };
  /** Healed jobs per hour above which someone should look (default 5). */
  healedAlarmThreshold?: number;
}

/** Ops: the sweeper on a schedule, execution-failure cleanup, alarms and a dashboard. */
export class Healing extends Construct {
  readonly sweeper: GhostlessFunction;
  readonly cleanup: GhostlessFunction;

  constructor(scope: Construct, id: string, props: HealingProps) {
    super(scope, id);
    const { storage, environment, stateMachine, stateMachineArns } = props;
    const healer = (fnId: string, handlerFile: string) => {
      return (
        new GhostlessFunction(this, fnId, { handlerFile, environment, timeout: Duration.seconds(55) })
          .bindTable(storage.table)
          // Healing may collect a finished task's outputs.
          .bindBucket(storage.bucket, { write: [OUTPUTS_PREFIX], streamed: true })
          .allowTaskResponses(stateMachineArns.arn)
          .allowOnExecutions(['states:DescribeExecution', 'states:StopExecution'], stateMachineArns.executions)
      );
    };
    this.sweeper = healer('SweeperFunction', 'sweeper')
      // Re-driving a lost admission runs the S3 event's own admission: it reads the upload, copies it to its
      // admitted/ key and starts the job's execution.
      .bindBucket(storage.bucket, { read: [INPUTS_PREFIX, ADMITTED_PREFIX], write: [ADMITTED_PREFIX] });
    // Starting a re-driven admission's execution; listing the running executions (one call per 1,000 live jobs).
    this.sweeper.addToRolePolicy(
      new PolicyStatement({ actions: ['states:StartExecution', 'states:ListExecutions'], resources: [stateMachineArns.arn] }),
    );
    this.cleanup = healer('ExecutionEndedFunction', 'execution-ended');

    new Rule(this, 'SweepSchedule', {
      description: 'Heal stragglers: driverless jobs, leaked slots and locks, lost wake-ups',
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(this.sweeper, { retryAttempts: 0 })],
    });
    new Rule(this, 'ExecutionEnded', {
      description: 'Finalize the job of an execution that failed, timed out or was aborted',
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [stateMachine.stateMachineArn] },
      },
      targets: [new LambdaFunction(this.cleanup, { retryAttempts: 8 })],
    });

    const ghostless = (metricName: string, statistic = 'Sum', dimensions: Record<string, string> = {}) =>
      new Metric({
        namespace: METRIC_NAMESPACE,
        metricName,
        dimensionsMap: { service: METRIC_SERVICE, ...dimensions },
        statistic,
        period: Duration.minutes(5),
      });
    const healed = ghostless(METRICS.healedTotal);
    new Alarm(this, 'HealedJobsAlarm', {
      alarmDescription: 'The sweeper is healing jobs: something is killing drivers',
      metric: new MathExpression({ expression: 'SUM(METRICS())', usingMetrics: { healed }, period: Duration.hours(1) }),
      threshold: props.healedAlarmThreshold ?? 5,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    new Alarm(this, 'OldestQueuedAlarm', {
      alarmDescription: 'A job has waited in the queue for over 30 minutes',
      metric: ghostless(METRICS.oldestQueuedSeconds, 'Maximum'),
      threshold: 1800,
      evaluationPeriods: 2,
      comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    new Alarm(this, 'SweeperErrorsAlarm', {
      alarmDescription: 'The sweeper itself is failing',
      metric: this.sweeper.metricErrors({ period: Duration.minutes(5) }),
      threshold: 1,
      evaluationPeriods: 2,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });

    const handoff = (statistic: string) => ghostless(METRICS.handoffMs, statistic);
    new Dashboard(this, 'Dashboard', {
      widgets: [
        [
          new GraphWidget({
            title: 'Queue length and running jobs',
            left: [ghostless(METRICS.queued, 'Maximum'), ghostless(METRICS.running, 'Maximum')],
          }),
          new GraphWidget({ title: 'Oldest queued (s)', left: [ghostless(METRICS.oldestQueuedSeconds, 'Maximum')] }),
          new GraphWidget({
            title: 'Hand-off latency (ms): free slot seen → next job woken',
            left: [handoff('p50'), handoff('p99'), handoff('Maximum')],
          }),
        ],
        [
          new GraphWidget({ title: 'Heals by kind', left: HEALED_METRICS.map((name) => ghostless(name)) }),
          new GraphWidget({
            title: 'Sweeps: jobs examined, deferred (DescribeExecution budget), failed',
            left: [ghostless(METRICS.sweepExamined, 'Maximum')],
            right: [ghostless(METRICS.sweepDeferred, 'Maximum'), ghostless(METRICS.sweepFailed)],
          }),
          new GraphWidget({
            title: 'Job outcomes per tool',
            left: (['succeeded', 'failed', 'cancelled'] as const).flatMap((status) =>
              (Object.keys(TOOLS) as ToolId[]).map((tool) => ghostless(jobOutcomeMetric(status), 'Sum', { tool })),
            ),
          }),
        ],
      ],
    });
  }
}
