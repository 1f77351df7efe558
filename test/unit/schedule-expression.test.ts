import { describe, expect, it } from 'vitest';
import { InvalidScheduleExpressionError, parseScheduleExpression, UnsupportedScheduleExpressionError } from '../../local/events/schedule';

describe('schedule expressions', () => {
  it.each([
    ['rate(1 minute)', 60_000],
    ['rate(5 minutes)', 300_000],
    ['rate(1 hour)', 3_600_000],
    ['rate(12 hours)', 43_200_000],
    ['rate(1 day)', 86_400_000],
    ['rate(7 days)', 604_800_000],
  ])('turns %s into %i ms', (expression, ms) => {
    expect(parseScheduleExpression(expression)).toBe(ms);
  });

  it.each([
    ['rate(1 minutes)', 'use "minute" with a value of 1'],
    ['rate(5 minute)', 'use "minutes" with a value of 5'],
    ['rate(1 hours)', 'use "hour"'],
    ['rate(2 day)', 'use "days"'],
    ['rate(0 minutes)', 'positive whole number'],
    ['rate(1.5 hours)', 'expected rate(value unit)'],
    ['rate(-1 minutes)', 'expected rate(value unit)'],
    ['rate(1 second)', 'expected rate(value unit)'],
    ['rate(5  minutes)', 'expected rate(value unit)'],
    ['rate(5 Minutes)', 'expected rate(value unit)'],
    ['rate(minutes)', 'expected rate(value unit)'],
    ['every 5 minutes', 'expected rate(value unit) or cron(fields)'],
    ['cron(0 12 * * ?)', 'six space-separated fields'],
    ['cron(0 12 * * * *)', 'exactly one of day-of-month and day-of-week'],
  ])('rejects %s as AWS does', (expression, reason) => {
    expect(() => parseScheduleExpression(expression)).toThrow(InvalidScheduleExpressionError);
    expect(() => parseScheduleExpression(expression)).toThrow(reason);
  });

  it('says a valid cron expression is not supported locally', () => {
    expect(() => parseScheduleExpression('cron(0 12 * * ? *)')).toThrow(UnsupportedScheduleExpressionError);
    expect(() => parseScheduleExpression('cron(15 10 ? * 6L 2026-2027)')).toThrow('not supported locally');
  });

  it('accepts what CDK synthesizes for Schedule.rate(Duration.minutes(1))', async () => {
    const { Duration } = await import('aws-cdk-lib');
    const { Schedule } = await import('aws-cdk-lib/aws-events');
    expect(parseScheduleExpression(Schedule.rate(Duration.minutes(1)).expressionString)).toBe(60_000);
    expect(parseScheduleExpression(Schedule.rate(Duration.hours(2)).expressionString)).toBe(7_200_000);
  });
});
