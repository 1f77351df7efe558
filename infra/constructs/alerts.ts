import { Aspects, Duration, type IAspect } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, MathExpression, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Alias } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IStateMachine } from 'aws-cdk-lib/aws-stepfunctions';
import { Construct, type IConstruct } from 'constructs';

const MAX_ALARM_METRICS = 10;

export interface AlertsProps {
  /** Who is told when an alarm fires (`-c alarmEmail=ops@example.com`); without it the topic has no subscriber yet. */
  email?: string;
  stateMachine: IStateMachine;
  functions: IFunction[];
}

/**
 * Alarms that reach someone: one SNS topic is the action of every alarm in the stack (those declared here and
 * any other construct's, through an aspect), plus the alarms on the job machine and the functions themselves.
 */
export class Alerts extends Construct {
  readonly topic: Topic;

  constructor(scope: Construct, id: string, { email, stateMachine, functions }: AlertsProps) {
    super(scope, id);
    this.topic = new Topic(this, 'Topic', {
      displayName: 'Ghostless alarms',
      masterKey: Alias.fromAliasName(this, 'SnsKey', 'alias/aws/sns'),
      enforceSSL: true,
    });
    if (email) this.topic.addSubscription(new EmailSubscription(email));

    const period = Duration.minutes(5);
    new Alarm(this, 'FailedExecutionsAlarm', {
      alarmDescription: 'Job executions failed, timed out or were aborted: their jobs are healed, but drivers are dying',
      metric: new MathExpression({
        expression: 'failed + timedOut + aborted',
        usingMetrics: {
          failed: stateMachine.metricFailed({ period }),
          timedOut: stateMachine.metricTimedOut({ period }),
          aborted: stateMachine.metricAborted({ period }),
        },
        period,
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    // An alarm's math expression takes at most 10 metrics: one throttle alarm per 10 functions.
    for (let first = 0; first < functions.length; first += MAX_ALARM_METRICS) {
      const group = functions.slice(first, first + MAX_ALARM_METRICS);
      new Alarm(this, first === 0 ? 'ThrottlesAlarm' : `ThrottlesAlarm${first / MAX_ALARM_METRICS + 1}`, {
        alarmDescription: 'Lambda throttled Ghostless functions for 10 minutes: raise concurrency before jobs start failing',
        metric: new MathExpression({
          expression: group.map((_, i) => `t${i}`).join(' + '),
          usingMetrics: Object.fromEntries(group.map((fn, i) => [`t${i}`, fn.metricThrottles({ period })])),
          period,
        }),
        threshold: 1,
        evaluationPeriods: 2,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
    }

    Aspects.of(scope).add(new NotifyOnAlarm(new SnsAction(this.topic)));
  }
}

/** Makes the topic the alarm (and OK) action of every alarm in scope. */
class NotifyOnAlarm implements IAspect {
  constructor(private readonly action: SnsAction) {}

  visit(node: IConstruct) {
    if (!(node instanceof Alarm)) return;
    node.addAlarmAction(this.action);
    node.addOkAction(this.action);
  }
}
