import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Rule } from 'aws-cdk-lib/aws-events';
import { describe, expect, it, onTestFinished } from 'vitest';
import { compileEventPattern, InvalidEventPatternError, matchesEventPattern, validateEventPattern } from '../../local/events/pattern';

// Events and patterns below are the examples of the EventBridge user guide ("Event patterns", "Arrays",
// "Null values and empty strings", "Content filtering", "Comparison operators") and of aws/event-ruler's README.

const ec2Event = {
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '111122223333',
  time: '2017-12-22T18:43:48Z',
  region: 'us-west-1',
  resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'],
  detail: { 'instance-id': 'i-1234567890abcdef0', state: 'terminated' },
};
const withDetail = (detail: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ ...ec2Event, ...extra, detail });

const autoscalingEvent = {
  version: '0',
  id: '3e3c153a-8339-4e30-8c35-687ebef853fe',
  'detail-type': 'EC2 Instance Launch Successful',
  source: 'aws.autoscaling',
  account: '123456789012',
  time: '2015-11-11T21:31:47Z',
  region: 'us-east-1',
  resources: [],
  detail: { eventVersion: '', responseElements: null },
};

const macieEvent = {
  version: '0',
  id: '3e355723-fca9-4de3-9fd7-154c289d6b59',
  'detail-type': 'Macie Alert',
  source: 'aws.macie',
  account: '123456789012',
  time: '2017-04-24T22:28:49Z',
  region: 'us-east-1',
  resources: [
    'arn:aws:macie:us-east-1:123456789012:trigger/trigger_id/alert/alert_id',
    'arn:aws:macie:us-east-1:123456789012:trigger/trigger_id',
  ],
  detail: {
    'notification-type': 'ALERT_CREATED',
    name: 'Scanning bucket policies',
    tags: ['Custom_Alert', 'Insider'],
    'risk-score': 80,
    trigger: { 'rule-arn': 'arn:aws:macie:us-east-1:123456789012:trigger/trigger_id', 'alert-type': 'basic', risk: 8 },
  },
};

/** event-ruler's README example event. */
const rulerEvent = {
  version: '0',
  id: 'ddddd4-aaaa-7777-4444-345dd43cc333',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '012345679012',
  time: '2017-10-02T16:24:49Z',
  region: 'us-east-1',
  resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000'],
  detail: {
    'c-count': 5,
    'd-count': 3,
    'x-limit': 301.8,
    'source-ip': '10.0.0.33',
    'instance-id': 'i-000000aaaaaa00000',
    state: 'running',
  },
};

const MACHINE_ARN = 'arn:aws:states:us-east-1:123456789012:stateMachine:JobMachine';
const statusChange = (status: string, stateMachineArn = MACHINE_ARN) => ({
  version: '0',
  id: '315c1398-40ff-a850-213b-158f73e60175',
  'detail-type': 'Step Functions Execution Status Change',
  source: 'aws.states',
  account: '123456789012',
  time: '2019-02-26T19:42:21Z',
  region: 'us-east-1',
  resources: [`${stateMachineArn.replace(':stateMachine:', ':execution:')}:job-1`],
  detail: {
    executionArn: `${stateMachineArn.replace(':stateMachine:', ':execution:')}:job-1`,
    stateMachineArn,
    name: 'job-1',
    status,
    startDate: 1551225271984,
    stopDate: status === 'RUNNING' ? null : 1551225272000,
    input: '{}',
    output: null,
  },
});
const executionEnded = {
  source: ['aws.states'],
  'detail-type': ['Step Functions Execution Status Change'],
  detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [MACHINE_ARN] },
};

describe('event pattern matching', () => {
  it('matches the EC2 instance-termination example and ignores fields the pattern leaves out', () => {
    const pattern = { source: ['aws.ec2'], 'detail-type': ['EC2 Instance State-change Notification'], detail: { state: ['terminated'] } };
    expect(matchesEventPattern(pattern, ec2Event)).toBe(true);
    expect(matchesEventPattern(pattern, withDetail({ state: 'running' }))).toBe(false);
  });

  it('needs every field of the pattern, at the same nesting', () => {
    expect(matchesEventPattern({ detail: { state: ['terminated'] } }, { ...ec2Event, detail: undefined, state: 'terminated' })).toBe(false);
    expect(matchesEventPattern({ detail: { state: ['terminated'], missing: ['x'] } }, ec2Event)).toBe(false);
  });

  it('matches any of several values for one field', () => {
    const pattern = { source: ['aws.ec2', 'aws.fargate'] };
    expect(matchesEventPattern(pattern, ec2Event)).toBe(true);
    expect(matchesEventPattern(pattern, { ...ec2Event, source: 'aws.fargate' })).toBe(true);
    expect(matchesEventPattern(pattern, { ...ec2Event, source: 'aws.ecs' })).toBe(false);
  });

  it('matches strings character by character, without case folding', () => {
    expect(matchesEventPattern({ source: ['AWS.EC2'] }, ec2Event)).toBe(false);
  });

  it('matches null and empty string and keeps them apart', () => {
    expect(matchesEventPattern({ detail: { eventVersion: [''] } }, autoscalingEvent)).toBe(true);
    expect(matchesEventPattern({ detail: { responseElements: [null] } }, autoscalingEvent)).toBe(true);
    expect(matchesEventPattern({ detail: { responseElements: [''] } }, autoscalingEvent)).toBe(false);
    expect(matchesEventPattern({ detail: { eventVersion: [null] } }, autoscalingEvent)).toBe(false);
    expect(matchesEventPattern({ detail: { absent: [null] } }, autoscalingEvent)).toBe(false);
  });

  it('matches numbers and nested objects (the Macie example)', () => {
    const pattern = { source: ['aws.macie'], 'detail-type': ['Macie Alert'], detail: { 'risk-score': [80], trigger: { risk: [8] } } };
    expect(matchesEventPattern(pattern, macieEvent)).toBe(true);
    expect(matchesEventPattern({ detail: { 'risk-score': ['80'] } }, macieEvent)).toBe(false);
    expect(matchesEventPattern({ detail: { trigger: { risk: [9] } } }, macieEvent)).toBe(false);
    expect(matchesEventPattern({ n: [300] }, { n: 300.0000001 })).toBe(true);
    expect(matchesEventPattern({ n: [300] }, { n: 300.00001 })).toBe(false);
    expect(matchesEventPattern({ account: [123456789012] }, { account: 123456789012 })).toBe(true);
  });

  it('matches true and false only as JSON literals', () => {
    expect(matchesEventPattern({ detail: { ok: [true] } }, withDetail({ ok: true }))).toBe(true);
    expect(matchesEventPattern({ detail: { ok: [true] } }, withDetail({ ok: 'true' }))).toBe(false);
    expect(matchesEventPattern({ detail: { ok: [false] } }, withDetail({ ok: false }))).toBe(true);
  });

  it('matches an event array when it shares any value with the pattern array', () => {
    const pattern = {
      resources: [
        'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f',
        'arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f',
        'arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f',
      ],
    };
    const resources = [
      'arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate',
      'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f',
    ];
    expect(matchesEventPattern(pattern, { ...ec2Event, resources })).toBe(true);
    expect(matchesEventPattern(pattern, { ...ec2Event, resources: [resources[0]] })).toBe(false);
    expect(matchesEventPattern({ detail: { tags: ['Insider'] } }, macieEvent)).toBe(true);
  });

  it('looks into objects inside arrays but only matches fields of the same element', () => {
    const event = {
      employees: [
        { firstName: 'John', lastName: 'Doe' },
        { firstName: 'Anna', lastName: 'Smith' },
        { firstName: 'Peter', lastName: 'Jones' },
      ],
    };
    expect(matchesEventPattern({ employees: { firstName: ['Anna'] } }, event)).toBe(true);
    expect(matchesEventPattern({ employees: { firstName: ['Anna'], lastName: ['Smith'] } }, event)).toBe(true);
    expect(matchesEventPattern({ employees: { firstName: ['Anna'], lastName: ['Jones'] } }, event)).toBe(false);
    const nested = { employees: [[event.employees[0], event.employees[1]], [event.employees[2]]] };
    expect(matchesEventPattern({ employees: { firstName: ['Peter'] } }, nested)).toBe(true);
  });

  it('matches a prefix, also ignoring case', () => {
    expect(matchesEventPattern({ time: [{ prefix: '2017-10-02' }] }, { time: '2017-10-02T18:43:48Z' })).toBe(true);
    expect(matchesEventPattern({ time: [{ prefix: '2017-10-02' }] }, { time: '2017-10-03T18:43:48Z' })).toBe(false);
    const ignoreCase = { detail: { service: [{ prefix: { 'equals-ignore-case': 'EventB' } }] } };
    for (const service of ['EventBridge', 'EVENTBRIDGE', 'eventbridge'])
      expect(matchesEventPattern(ignoreCase, withDetail({ service }))).toBe(true);
    expect(matchesEventPattern(ignoreCase, withDetail({ service: 'Events' }))).toBe(false);
  });

  it('matches a suffix, also ignoring case, and only on strings', () => {
    expect(matchesEventPattern({ FileName: [{ suffix: '.png' }] }, { FileName: 'photo.png' })).toBe(true);
    expect(matchesEventPattern({ FileName: [{ suffix: '.png' }] }, { FileName: 'photo.PNG' })).toBe(false);
    expect(
      matchesEventPattern({ detail: { FileName: [{ suffix: { 'equals-ignore-case': '.png' } }] } }, withDetail({ FileName: 'photo.PNG' })),
    ).toBe(true);
    expect(matchesEventPattern({ source: [{ suffix: 'ec2' }] }, ec2Event)).toBe(true);
    expect(matchesEventPattern({ n: [{ suffix: '5' }] }, { n: 5 })).toBe(false);
  });

  it('matches equals-ignore-case', () => {
    expect(matchesEventPattern({ Name: [{ 'equals-ignore-case': 'alice' }] }, { Name: 'Alice' })).toBe(true);
    expect(matchesEventPattern({ source: [{ 'equals-ignore-case': 'EC2' }] }, ec2Event)).toBe(false);
    expect(matchesEventPattern({ source: [{ 'equals-ignore-case': 'AWS.EC2' }] }, ec2Event)).toBe(true);
  });

  it('matches wildcards, with escaped asterisks and backslashes taken literally', () => {
    expect(matchesEventPattern({ source: [{ wildcard: 'Simple*Service' }] }, { source: 'Simple Queue Service' })).toBe(true);
    expect(matchesEventPattern({ source: [{ wildcard: 'Simple*Service' }] }, { source: 'SimpleService' })).toBe(true);
    expect(matchesEventPattern({ source: [{ wildcard: 'Simple*Service' }] }, { source: 'Simple Queue Services' })).toBe(false);
    expect(matchesEventPattern({ key: [{ wildcard: '*.png' }] }, { key: 'dir/a.png' })).toBe(true);
    expect(matchesEventPattern({ key: [{ wildcard: '*Title*' }] }, { key: 'My Title here' })).toBe(true);
    expect(matchesEventPattern({ key: [{ wildcard: 'a\\*b' }] }, { key: 'a*b' })).toBe(true);
    expect(matchesEventPattern({ key: [{ wildcard: 'a\\*b' }] }, { key: 'axxb' })).toBe(false);
    expect(matchesEventPattern({ key: [{ wildcard: 'a\\\\b' }] }, { key: 'a\\b' })).toBe(true);
    expect(matchesEventPattern({ key: [{ wildcard: 'a.c' }] }, { key: 'abc' })).toBe(false);
  });

  it('matches anything but a string or a number', () => {
    const state = { detail: { state: [{ 'anything-but': 'initializing' }] } };
    expect(matchesEventPattern(state, rulerEvent)).toBe(true);
    expect(matchesEventPattern(state, withDetail({ state: 'initializing' }))).toBe(false);
    const limit = { detail: { 'x-limit': [{ 'anything-but': 123 }] } };
    expect(matchesEventPattern(limit, withDetail({ 'x-limit': 124 }))).toBe(true);
    expect(matchesEventPattern(limit, withDetail({ 'x-limit': 123 }))).toBe(false);
    expect(matchesEventPattern(limit, withDetail({ 'x-limit': '123' }))).toBe(true);
  });

  it('matches anything but a list of strings or of numbers', () => {
    const states = { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } };
    expect(matchesEventPattern(states, rulerEvent)).toBe(true);
    expect(matchesEventPattern(states, withDetail({ state: 'overloaded' }))).toBe(false);
    const limits = { detail: { 'x-limit': [{ 'anything-but': [100, 200, 300] }] } };
    expect(matchesEventPattern(limits, rulerEvent)).toBe(true);
    expect(matchesEventPattern(limits, withDetail({ 'x-limit': 200 }))).toBe(false);
  });

  it('matches anything but a prefix, a suffix, a case-insensitive value or a wildcard', () => {
    const prefix = { detail: { state: [{ 'anything-but': { prefix: 'init' } }] } };
    expect(matchesEventPattern(prefix, rulerEvent)).toBe(true);
    expect(matchesEventPattern(prefix, withDetail({ state: 'initializing' }))).toBe(false);
    const suffix = { FileName: [{ 'anything-but': { suffix: '.png' } }] };
    expect(matchesEventPattern(suffix, { FileName: 'a.jpg' })).toBe(true);
    expect(matchesEventPattern(suffix, { FileName: 'a.png' })).toBe(false);
    const ignoreCase = { state: [{ 'anything-but': { 'equals-ignore-case': 'initializing' } }] };
    expect(matchesEventPattern(ignoreCase, { state: 'INITIALIZING' })).toBe(false);
    expect(matchesEventPattern(ignoreCase, { state: 'running' })).toBe(true);
    const ignoreCaseList = { state: [{ 'anything-but': { 'equals-ignore-case': ['stopped', 'overloaded'] } }] };
    expect(matchesEventPattern(ignoreCaseList, { state: 'Stopped' })).toBe(false);
    const wildcard = { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] };
    expect(matchesEventPattern(wildcard, { FilePath: '/usr/lib/x.so' })).toBe(false);
    expect(matchesEventPattern(wildcard, { FilePath: '/usr/bin/x' })).toBe(true);
  });

  it('does not match anything-but on a missing field', () => {
    expect(matchesEventPattern({ detail: { state: [{ 'anything-but': 'initializing' }] } }, withDetail({}))).toBe(false);
  });

  it('matches anything-but on an array when one element is not excluded', () => {
    const pattern = { detail: { state: [{ 'anything-but': 'stopped' }] } };
    expect(matchesEventPattern(pattern, withDetail({ state: ['stopped', 'running'] }))).toBe(true);
    expect(matchesEventPattern(pattern, withDetail({ state: ['stopped'] }))).toBe(false);
  });

  it('matches numeric ranges with one or two operators, on JSON numbers only', () => {
    const pattern = {
      detail: {
        'c-count': [{ numeric: ['>', 0, '<=', 5] }],
        'd-count': [{ numeric: ['<', 10] }],
        'x-limit': [{ numeric: ['=', 3.018e2] }],
      },
    };
    expect(matchesEventPattern(pattern, rulerEvent)).toBe(true);
    expect(matchesEventPattern(pattern, { ...rulerEvent, detail: { ...rulerEvent.detail, 'c-count': 0 } })).toBe(false);
    expect(matchesEventPattern(pattern, { ...rulerEvent, detail: { ...rulerEvent.detail, 'c-count': 6 } })).toBe(false);
    expect(matchesEventPattern(pattern, { ...rulerEvent, detail: { ...rulerEvent.detail, 'd-count': 10 } })).toBe(false);
    expect(matchesEventPattern(pattern, { ...rulerEvent, detail: { ...rulerEvent.detail, 'x-limit': '301.8' } })).toBe(false);
    expect(matchesEventPattern({ n: [{ numeric: ['>=', 1, '<', 2] }] }, { n: 1 })).toBe(true);
    expect(matchesEventPattern({ n: [{ numeric: ['>=', 1, '<', 2] }] }, { n: 2 })).toBe(false);
    expect(matchesEventPattern({ n: [{ numeric: ['>', -1e9] }] }, { n: -5 })).toBe(true);
  });

  it('matches IP addresses inside a CIDR block, IPv4 and IPv6', () => {
    const pattern = { detail: { sourceIPAddress: [{ cidr: '10.0.0.0/24' }] } };
    expect(matchesEventPattern(pattern, withDetail({ sourceIPAddress: '10.0.0.255' }))).toBe(true);
    expect(matchesEventPattern(pattern, withDetail({ sourceIPAddress: '10.0.1.0' }))).toBe(false);
    expect(matchesEventPattern(pattern, withDetail({ sourceIPAddress: 'not an ip' }))).toBe(false);
    expect(matchesEventPattern({ ip: [{ cidr: '2001:db8::/32' }] }, { ip: '2001:db8:0:1::5' })).toBe(true);
    expect(matchesEventPattern({ ip: [{ cidr: '2001:db8::/32' }] }, { ip: '2001:db9::5' })).toBe(false);
  });

  it('matches exists true when the leaf is present', () => {
    const pattern = { detail: { state: [{ exists: true }] } };
    expect(matchesEventPattern(pattern, { ...ec2Event, detail: { 'instance-id': 'i-abcd1111', state: 'pending' } })).toBe(true);
    expect(matchesEventPattern(pattern, { detail: { 'c-count': { c1: 100 } } })).toBe(false);
    expect(matchesEventPattern({ detail: { 'c-count': [{ exists: true }] } }, { detail: { 'c-count': { c1: 100 } } })).toBe(false);
    expect(matchesEventPattern({ detail: { v: [{ exists: true }] } }, withDetail({ v: null }))).toBe(true);
  });

  it('matches exists false when the field is absent or not a leaf', () => {
    const pattern = { detail: { 'c-count': [{ exists: false }] } };
    expect(matchesEventPattern(pattern, { detail: { state: ['initializing', 'running'] } })).toBe(true);
    expect(matchesEventPattern(pattern, { detail: { state: ['initializing', 'running'], 'c-count': { c1: 100 } } })).toBe(true);
    expect(matchesEventPattern(pattern, rulerEvent)).toBe(false);
    expect(matchesEventPattern(pattern, {})).toBe(true);
  });

  it('matches the complex example that combines several filters', () => {
    const pattern = {
      time: [{ prefix: '2017-10-02' }],
      detail: {
        state: [{ 'anything-but': 'initializing' }],
        'c-count': [{ numeric: ['>', 0, '<=', 5] }],
        'd-count': [{ numeric: ['<', 10] }],
        'x-limit': [{ 'anything-but': [100, 200, 300] }],
        'source-ip': [{ cidr: '10.0.0.0/8' }],
      },
    };
    expect(matchesEventPattern(pattern, rulerEvent)).toBe(true);
    expect(matchesEventPattern(pattern, { ...rulerEvent, time: '2017-10-03T00:00:00Z' })).toBe(false);
  });

  it('matches values of different kinds listed for one field', () => {
    const pattern = { detail: { state: ['stopped', { prefix: 'run' }, { exists: false }] } };
    expect(matchesEventPattern(pattern, rulerEvent)).toBe(true);
    expect(matchesEventPattern(pattern, withDetail({}))).toBe(true);
    expect(matchesEventPattern(pattern, withDetail({ state: 'pending' }))).toBe(false);
  });

  it('matches $or across fields, in parallel, and nested with and', () => {
    const event = (fields: Record<string, unknown>) => ({ source: 'aws.cloudwatch', ...fields });
    const normal = {
      source: ['aws.cloudwatch'],
      $or: [{ metricName: ['CPUUtilization', 'ReadLatency'] }, { namespace: ['AWS/EC2', 'AWS/ES'] }],
    };
    expect(matchesEventPattern(normal, event({ metricName: 'ReadLatency' }))).toBe(true);
    expect(matchesEventPattern(normal, event({ namespace: 'AWS/ES' }))).toBe(true);
    expect(matchesEventPattern(normal, event({ namespace: 'AWS/S3' }))).toBe(false);
    expect(matchesEventPattern(normal, { metricName: 'ReadLatency', source: 'aws.ec2' })).toBe(false);

    const parallel = {
      $or: [{ metricName: ['CPUUtilization', 'ReadLatency'] }, { namespace: ['AWS/EC2', 'AWS/ES'] }],
      detail: { $or: [{ source: ['aws.cloudwatch'] }, { 'detail-type': ['CloudWatch Alarm State Change'] }] },
    };
    expect(matchesEventPattern(parallel, { namespace: 'AWS/EC2', detail: { 'detail-type': 'CloudWatch Alarm State Change' } })).toBe(true);
    expect(matchesEventPattern(parallel, { namespace: 'AWS/EC2', detail: { source: 'aws.ec2' } })).toBe(false);

    const nested = {
      source: ['aws.cloudwatch'],
      $or: [
        { metricName: ['CPUUtilization', 'ReadLatency'] },
        { metricType: ['MetricType'], namespace: ['AWS/EC2', 'AWS/ES'], $or: [{ metricId: [1234] }, { spaceId: [1000] }] },
        { scope: ['Service'] },
      ],
    };
    expect(matchesEventPattern(nested, event({ metricType: 'MetricType', namespace: 'AWS/EC2', spaceId: 1000 }))).toBe(true);
    expect(matchesEventPattern(nested, event({ metricType: 'MetricType', namespace: 'AWS/EC2', spaceId: 1001 }))).toBe(false);
    expect(matchesEventPattern(nested, event({ metricType: 'MetricType', spaceId: 1000 }))).toBe(false);
    expect(matchesEventPattern(nested, event({ scope: 'Service' }))).toBe(true);
  });

  it('uses the last occurrence of a key repeated in the pattern text', () => {
    const text = '{"detail":{"location":[{"prefix":"us-"}],"location":[{"anything-but":"us-east"}]}}';
    expect(matchesEventPattern(text, withDetail({ location: 'eu-west' }))).toBe(true);
    expect(matchesEventPattern(text, withDetail({ location: 'us-east' }))).toBe(false);
  });

  it('compiles once and matches many events', () => {
    const match = compileEventPattern(executionEnded);
    expect(['FAILED', 'TIMED_OUT', 'ABORTED', 'SUCCEEDED', 'RUNNING'].map((s) => match(statusChange(s)))).toEqual([
      true,
      true,
      true,
      false,
      false,
    ]);
  });
});

describe('the Step Functions execution-ended rule', () => {
  it('matches FAILED, TIMED_OUT and ABORTED executions of its own state machine only', () => {
    for (const status of ['FAILED', 'TIMED_OUT', 'ABORTED']) expect(matchesEventPattern(executionEnded, statusChange(status))).toBe(true);
    for (const status of ['RUNNING', 'SUCCEEDED', 'PENDING_REDRIVE'])
      expect(matchesEventPattern(executionEnded, statusChange(status))).toBe(false);
    expect(matchesEventPattern(executionEnded, statusChange('FAILED', `${MACHINE_ARN}Other`))).toBe(false);
    expect(matchesEventPattern(executionEnded, { ...statusChange('FAILED'), source: 'aws.lambda' })).toBe(false);
  });

  it('reads the pattern exactly as CDK synthesizes it into the template', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'ghostless-patterns-'));
    onTestFinished(() => rmSync(outdir, { recursive: true, force: true }));
    const app = new App({ outdir, builtinCloudFormationValidation: false, context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Patterns', { env: { account: '123456789012', region: 'us-east-1' } });
    new Rule(stack, 'ExecutionEnded', {
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [MACHINE_ARN] },
      },
    });
    const rules = Template.fromStack(stack).findResources('AWS::Events::Rule');
    const synthesized = Object.values(rules)[0]?.Properties.EventPattern;
    expect(synthesized).toEqual(executionEnded);
    expect(matchesEventPattern(synthesized, statusChange('TIMED_OUT'))).toBe(true);
    expect(matchesEventPattern(synthesized, statusChange('SUCCEEDED'))).toBe(false);
  });
});

describe('event pattern validation', () => {
  const valid: [string, unknown][] = [
    ['the execution-ended rule', executionEnded],
    ['a prefix ignoring case', { s: [{ prefix: { 'equals-ignore-case': 'a' } }] }],
    ['an anything-but wildcard list', { s: [{ 'anything-but': { wildcard: ['*a', 'b*'] } }] }],
    ['a numeric range', { n: [{ numeric: ['>=', 0, '<', 5e9] }] }],
    ['an IPv6 CIDR', { ip: [{ cidr: '2001:db8::/32' }] }],
    ['the pattern as JSON text', JSON.stringify(executionEnded)],
  ];
  it.each(valid)('accepts %s', (_, pattern) => {
    expect(() => validateEventPattern(pattern)).not.toThrow();
  });

  const invalid: [string, unknown, string][] = [
    ['a pattern that is not an object', ['aws.ec2'], 'Filter is not an object'],
    ['malformed JSON text', '{"source": [', 'not valid JSON'],
    ['an empty pattern', {}, 'Empty objects are not allowed'],
    ['an empty nested object', { detail: {} }, 'Empty objects are not allowed'],
    ['an empty value array', { source: [] }, 'Empty arrays are not allowed'],
    ['a bare value instead of an array', { source: 'aws.ec2' }, '"source" must be an object or an array'],
    ['a nested array value', { source: [['aws.ec2']] }, 'Match value must be String, number, true, false, or null'],
    ['an unknown operator', { source: [{ contains: 'ec2' }] }, 'Unrecognized match type contains'],
    [
      'an unresolved template reference',
      { detail: { stateMachineArn: [{ Ref: 'JobsStateMachine' }] } },
      'Unresolved CloudFormation intrinsic Ref',
    ],
    ['two operators in one object', { source: [{ prefix: 'a', suffix: 'b' }] }, 'Only one key allowed'],
    ['an empty operator object', { source: [{}] }, 'Match expression name not found'],
    ['a numeric prefix', { source: [{ prefix: 1 }] }, 'prefix match pattern must be a string'],
    ['a non-boolean exists', { source: [{ exists: 'yes' }] }, 'exists match pattern must be either true or false'],
    ['an unknown numeric operator', { n: [{ numeric: ['!=', 1] }] }, 'Unrecognized numeric range operator: !='],
    ['a numeric upper bound first', { n: [{ numeric: ['<', 5, '>', 1] }] }, 'Too many elements in numeric expression'],
    ['a numeric lower bound twice', { n: [{ numeric: ['>', 1, '>', 5] }] }, 'Bad numeric range operator: >'],
    ['an inverted numeric range', { n: [{ numeric: ['>', 5, '<', 1] }] }, 'Bottom must be less than top'],
    ['a numeric string bound', { n: [{ numeric: ['>', '1'] }] }, 'Value of > must be numeric'],
    ['a numeric bound out of range', { n: [{ numeric: ['<', 1e10] }] }, 'out of range'],
    ['a numeric without an array', { n: [{ numeric: 5 }] }, 'Value of numeric must be a non-empty array'],
    ['an anything-but mixed list', { s: [{ 'anything-but': ['a', 1] }] }, 'mixed type is not supported'],
    ['an anything-but empty list', { s: [{ 'anything-but': [] }] }, 'mixed type is not supported'],
    ['an anything-but null', { s: [{ 'anything-but': null }] }, 'must be an array or single string/number value'],
    [
      'an anything-but prefix list',
      { s: [{ 'anything-but': { prefix: ['a', 'b'] } }] },
      'anything-but prefix match pattern must be a string',
    ],
    ['an anything-but empty prefix', { s: [{ 'anything-but': { prefix: '' } }] }, 'Null prefix/suffix not allowed'],
    ['an anything-but numeric', { s: [{ 'anything-but': { numeric: ['>', 1] } }] }, 'Unsupported anything-but pattern: numeric'],
    ['consecutive wildcards', { s: [{ wildcard: 'a**b' }] }, 'Consecutive wildcard characters'],
    ['a stray wildcard escape', { s: [{ wildcard: 'a\\b' }] }, 'Backslash in a wildcard pattern'],
    ['a malformed CIDR', { ip: [{ cidr: '10.0.0.0/33' }] }, 'Malformed CIDR'],
    ['a CIDR without a prefix length', { ip: [{ cidr: '10.0.0.1' }] }, 'Malformed CIDR'],
    ['$or with one branch', { $or: [{ a: ['1'] }] }, 'at least 2 objects'],
    ['$or with an object', { $or: { a: ['1'] } }, '$or must be followed by an array'],
    ['$or with a value branch', { $or: [{ a: ['1'] }, 'b'] }, 'Only JSON objects'],
    ['an operator name as a field inside $or', { $or: [{ numeric: [1] }, { prefix: ['abc'] }] }, 'reserved field name'],
  ];
  it.each(invalid)('rejects %s', (_, pattern, reason) => {
    expect(() => validateEventPattern(pattern)).toThrow(InvalidEventPatternError);
    expect(() => validateEventPattern(pattern)).toThrow(reason);
  });

  it('names the offending field in the error', () => {
    const error = (() => {
      try {
        validateEventPattern({ detail: { status: [] } });
      } catch (e) {
        return e as InvalidEventPatternError;
      }
    })();
    expect(error?.name).toBe('InvalidEventPatternError');
    expect(error?.path).toBe('detail.status');
    expect(error?.message).toBe('Event pattern is not valid. Reason: Empty arrays are not allowed (at detail.status)');
  });

  it('refuses to match with a malformed pattern instead of answering false', () => {
    expect(() => matchesEventPattern({ source: [] }, ec2Event)).toThrow(InvalidEventPatternError);
  });
});
