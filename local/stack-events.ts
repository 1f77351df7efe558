import { randomUUID } from 'node:crypto';
import { LOCAL_ACCOUNT, LOCAL_REGION, type Resolver } from './cloud/resolver';
import { type EventRule, eventRules, matchesS3EventType, type S3Notification } from './cloud/template-reader';
import type { S3Local } from './emulators/s3';
import { compileEventPattern } from './events/pattern';
import { parseScheduleExpression } from './events/schedule';
import type { LambdaService } from './lambda/lambda-service';
import type { LocalStepFunctions } from './stepfunctions/asl-runtime';
import { toStatusChangeDetail } from './stepfunctions/execution-model';

/** The template's event wiring: S3 notifications and EventBridge rules invoking the functions. */

/** S3 → Lambda notifications, with the template's event types and key filters. */
export function wireS3Notifications(s3: S3Local, notifications: S3Notification[], lambda: LambdaService): void {
  s3.onObjectCreated((event) => {
    const record = event.Records[0];
    if (!record) return;
    const key = decodeURIComponent(record.s3.object.key.replace(/\+/g, ' '));
    for (const n of notifications) {
      if (n.bucket !== record.s3.bucket.name || !n.events.some((type) => matchesS3EventType(type, record.eventName))) continue;
      if (!key.startsWith(n.prefix) || !key.endsWith(n.suffix)) continue;
      lambda.invokeAsync(n.functionArn, event);
    }
  });
}

/** An EventBridge event envelope, as the service delivers it to a target. */
const busEvent = (detailType: string, source: string, resource: string, detail: unknown) => ({
  version: '0',
  id: randomUUID(),
  'detail-type': detailType,
  source,
  account: LOCAL_ACCOUNT,
  time: new Date().toISOString(),
  region: LOCAL_REGION,
  resources: [resource],
  detail,
});

/**
 * EventBridge: pattern rules receive the Step Functions status changes; schedules fire on a timer (every
 * `scheduleIntervalMs` when set, which rescales the schedule's rate locally), one run at a time per rule.
 */
export function startEventRules(options: {
  resolver: Resolver;
  stepFunctions: LocalStepFunctions;
  lambda: LambdaService;
  scheduleIntervalMs: number | undefined;
}): { sweep(): Promise<unknown>; stop(): void } {
  const { lambda } = options;
  const rules = eventRules(options.resolver).filter((rule) => rule.enabled);
  const patternRules = rules.flatMap((rule) => (rule.pattern ? [{ rule, matches: compileEventPattern(rule.pattern) }] : []));
  const deliver = (rule: EventRule, event: unknown) => {
    for (const target of rule.targets) lambda.invokeAsync(target.arn, target.input === undefined ? event : JSON.parse(target.input));
  };
  let stopped = false;
  // Stopping the stack aborts the executions still running: that is the machine going away, not AWS aborting them,
  // so no rule hears of it (the sweeper heals those jobs after a restart, as it would after a crash).
  options.stepFunctions.onStatusChange((execution) => {
    if (stopped) return;
    const event = busEvent('Step Functions Execution Status Change', 'aws.states', execution.executionArn, toStatusChangeDetail(execution));
    for (const { rule, matches } of patternRules) if (matches(event)) deliver(rule, event);
  });

  const scheduled = rules.filter((rule) => rule.schedule);
  const running = new Map<string, Promise<unknown>>();
  const fire = (rule: EventRule) => {
    let run = running.get(rule.name);
    if (!run) {
      const event = () => busEvent('Scheduled Event', 'aws.events', rule.arn, {});
      run = Promise.all(rule.targets.map((target) => lambda.invoke(target.arn, event()))).finally(() => running.delete(rule.name));
      running.set(rule.name, run);
    }
    return run;
  };
  const timers = scheduled.map((rule) => {
    const every = options.scheduleIntervalMs ?? parseScheduleExpression(rule.schedule as string);
    const timer = setInterval(() => {
      if (!stopped) fire(rule).catch((error) => console.error(`[${rule.name}]`, (error as Error).message));
    }, every);
    timer.unref();
    return timer;
  });
  return {
    // A run already in flight began before this call (maybe under conditions the caller has since changed, such as
    // an armed fault): wait it out, whatever its outcome, then start a run that sees the present.
    sweep: () => Promise.all(scheduled.map((rule) => (running.get(rule.name) ?? Promise.resolve()).catch(() => {}).then(() => fire(rule)))),
    stop() {
      stopped = true;
      for (const timer of timers) clearInterval(timer);
    },
  };
}
