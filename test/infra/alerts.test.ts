import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { HEALED_METRICS, METRIC_NAMESPACE, METRICS } from '../../lambdas/metric-names';
import { synth } from '../support/synth';

describe('alerts', () => {
  const { stack, template } = synth({ alarmEmail: 'ops@example.com' });
  const topic = { Ref: stack.getLogicalId(stack.alerts.topic.node.defaultChild as never) };
  const alarms = Object.entries(template.findResources('AWS::CloudWatch::Alarm'));

  it('notify one encrypted, TLS-only topic from every alarm in the stack, going off and coming back', () => {
    expect(alarms.length).toBeGreaterThanOrEqual(5);
    for (const [id, alarm] of alarms) {
      expect(alarm.Properties.AlarmActions, id).toEqual([topic]);
      expect(alarm.Properties.OKActions, id).toEqual([topic]);
    }
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
  });

  it('e-mail the address given at deploy, and nobody when none is given', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'ops@example.com', TopicArn: topic });
    expect(Object.keys(synth().template.findResources('AWS::SNS::Subscription'))).toEqual([]);
  });

  it('watch failed, timed-out and aborted executions and throttles of every function', () => {
    const described = (text: RegExp) => alarms.find(([, alarm]) => text.test(String(alarm.Properties.AlarmDescription)))?.[1];
    const executions = JSON.stringify(described(/executions failed/)?.Properties.Metrics);
    for (const metric of ['ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted']) expect(executions).toContain(metric);
    // An alarm's math takes at most 10 metrics: the throttle alarms share the functions between them.
    const throttleAlarms = alarms.filter(([, alarm]) => /throttled/.test(String(alarm.Properties.AlarmDescription)));
    const throttles = throttleAlarms.flatMap(
      ([, alarm]) => alarm.Properties.Metrics as { MetricStat?: { Metric: { MetricName: string } } }[],
    );
    for (const [id, alarm] of throttleAlarms) expect((alarm.Properties.Metrics as unknown[]).length, id).toBeLessThanOrEqual(11);
    // Every function built from a Ghostless handler (the CDK helpers' own functions are not ours to size).
    const ours = Object.keys(template.findResources('AWS::Lambda::Function', { Metadata: { 'ghostless:handler': Match.anyValue() } }));
    const watched = throttles.filter((m) => m.MetricStat?.Metric.MetricName === 'Throttles');
    expect(ours.length).toBeGreaterThanOrEqual(8);
    expect(watched.map((m) => JSON.stringify(m.MetricStat?.Metric)).sort()).toEqual(
      ours
        .map((id) =>
          JSON.stringify({ Dimensions: [{ Name: 'FunctionName', Value: { Ref: id } }], MetricName: 'Throttles', Namespace: 'AWS/Lambda' }),
        )
        .sort(),
    );
  });

  it('alarm on the failed S3 events queue, the oldest queued job and the heal count', () => {
    const metricNames = alarms.map(([, alarm]) => JSON.stringify(alarm.Properties));
    expect(metricNames.some((text) => text.includes('ApproximateNumberOfMessagesVisible'))).toBe(true);
    for (const name of [METRICS.oldestQueuedSeconds, METRICS.healedTotal]) {
      expect(
        metricNames.some((text) => text.includes(`"MetricName":"${name}"`) && text.includes(METRIC_NAMESPACE)),
        name,
      ).toBe(true);
    }
  });

  it('chart queue length, running jobs, hand-off latency and every kind of heal, by the names the functions emit', () => {
    const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    expect(dashboards).toHaveLength(1);
    const body = JSON.stringify(dashboards[0]?.Properties.DashboardBody);
    const charted = (name: string) => body.includes(`\\"${name}\\"`);
    for (const name of [METRICS.queued, METRICS.running, METRICS.handoffMs, METRICS.sweepExamined, ...HEALED_METRICS]) {
      expect(charted(name), name).toBe(true);
    }
    expect(body).toContain('p99');
  });
});
