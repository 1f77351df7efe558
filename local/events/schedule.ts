/**
 * EventBridge rule schedule expressions (`AWS::Events::Rule` ScheduleExpression), as the user guide documents
 * them: `rate(value unit)` and `cron(minutes hours day-of-month month day-of-week year)`. The local stack runs
 * rate schedules on a timer; cron would need a calendar engine (L, W, #, time zones) for no current use, so it
 * is recognised and refused rather than approximated.
 */

/** The expression is not one PutRule accepts. */
export class InvalidScheduleExpressionError extends Error {
  override name = 'InvalidScheduleExpressionError';
  constructor(
    readonly expression: string,
    reason: string,
  ) {
    super(`Parameter ScheduleExpression is not valid: ${JSON.stringify(expression)} — ${reason}`);
  }
}

/** A valid expression the local stack cannot run. */
export class UnsupportedScheduleExpressionError extends Error {
  override name = 'UnsupportedScheduleExpressionError';
  constructor(readonly expression: string) {
    super(`Schedule ${JSON.stringify(expression)} is not supported locally: only rate(...) schedules run on the local stack`);
  }
}

const UNIT_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;

/** Interval in milliseconds of a `rate(...)` expression; throws for cron and for anything AWS would refuse. */
export function parseScheduleExpression(expression: string): number {
  const rate = /^rate\((.*)\)$/.exec(expression);
  if (rate) return parseRate(expression, rate[1] as string);
  const cron = /^cron\((.*)\)$/.exec(expression);
  if (cron) {
    validateCron(expression, cron[1] as string);
    throw new UnsupportedScheduleExpressionError(expression);
  }
  throw new InvalidScheduleExpressionError(expression, 'expected rate(value unit) or cron(fields)');
}

function parseRate(expression: string, body: string): number {
  const match = /^(\d+) (minutes?|hours?|days?)$/.exec(body);
  if (!match) throw new InvalidScheduleExpressionError(expression, 'expected rate(value unit) with unit minute(s), hour(s) or day(s)');
  const value = Number(match[1]);
  const word = match[2] as string;
  if (!Number.isSafeInteger(value) || value < 1)
    throw new InvalidScheduleExpressionError(expression, 'the value must be a positive whole number');
  // AWS refuses `rate(1 minutes)` and `rate(5 minute)`: the unit is singular exactly when the value is 1.
  const plural = word.endsWith('s');
  if (plural !== value > 1) {
    const unit = plural ? word.slice(0, -1) : word;
    throw new InvalidScheduleExpressionError(expression, `use "${value === 1 ? unit : `${unit}s`}" with a value of ${value}`);
  }
  return value * UNIT_MS[(plural ? word.slice(0, -1) : word) as Unit];
}

/** Shape checks only (six fields; one of day-of-month and day-of-week is `?`), enough to tell typos from cron. */
function validateCron(expression: string, body: string): void {
  const fields = body.split(' ');
  if (fields.length !== 6 || fields.some((field) => field === '')) {
    throw new InvalidScheduleExpressionError(
      expression,
      'cron needs six space-separated fields: minutes hours day-of-month month day-of-week year',
    );
  }
  const [, , dayOfMonth, , dayOfWeek] = fields;
  if ((dayOfMonth === '?') === (dayOfWeek === '?')) {
    throw new InvalidScheduleExpressionError(expression, 'exactly one of day-of-month and day-of-week must be "?"');
  }
}
