/**
 * Constructs that aws-local-stepfunctions 3.0.0 accepts (its asl-validator passes them, or it never looks) but
 * does not execute the way AWS does — checked against the library's source, not only its docs. Running such a
 * definition locally would silently diverge from the deployed one, so the local runtime refuses it up front.
 */

/** Largest delay a Node timer can hold (2^31-1 ms, ~24.8 days); longer ones fire after 1 ms instead. */
export const MAX_TIMER_SECONDS = 2_147_483;

const LAMBDA_INVOKE = /^arn:aws[\w-]*:states:::lambda:invoke(\.waitForTaskToken)?$/;

export interface UnsupportedFinding {
  /** Where in the definition, e.g. `States.Map.ItemProcessor.States.Step`. */
  path: string;
  construct: string;
  reason: string;
}

export class UnsupportedDefinitionError extends Error {
  override name = 'UnsupportedDefinitionError';
  constructor(readonly findings: UnsupportedFinding[]) {
    super(
      `The state machine uses ${findings.length} construct(s) the local Step Functions runtime cannot execute faithfully:\n${findings
        .map((f) => `  - ${f.path}: ${f.construct} — ${f.reason}`)
        .join('\n')}`,
    );
  }
}

/** `true` when the Task's Resource is one of the two integrations the local runtime executes. */
export const isLambdaInvoke = (resource: unknown): resource is string => typeof resource === 'string' && LAMBDA_INVOKE.test(resource);
export const isWaitForTaskToken = (resource: unknown) => isLambdaInvoke(resource) && resource.endsWith('.waitForTaskToken');

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every unsupported construct in the definition (empty when it runs locally as on AWS). */
export function findUnsupported(definition: unknown): UnsupportedFinding[] {
  const findings: UnsupportedFinding[] = [];
  const add = (path: string, construct: string, reason: string) => findings.push({ path, construct, reason });
  if (!isObject(definition)) {
    add('$', 'definition', 'not a JSON object');
    return findings;
  }
  checkMachine(definition, '', add, true);
  return findings;
}

/** Throws an `UnsupportedDefinitionError` listing every unsupported construct. */
export function assertSupported(definition: unknown): void {
  const findings = findUnsupported(definition);
  if (findings.length > 0) throw new UnsupportedDefinitionError(findings);
}

type Add = (path: string, construct: string, reason: string) => void;

function checkMachine(machine: Json, prefix: string, add: Add, topLevel: boolean) {
  const at = (p: string) => (prefix ? `${prefix}.${p}` : p);
  if (machine.QueryLanguage !== undefined && machine.QueryLanguage !== 'JSONPath') {
    add(
      at('QueryLanguage'),
      `QueryLanguage: ${JSON.stringify(machine.QueryLanguage)}`,
      'JSONata is accepted but never evaluated (Output/Arguments/Condition are ignored)',
    );
  }
  if (topLevel && typeof machine.TimeoutSeconds === 'number' && machine.TimeoutSeconds > MAX_TIMER_SECONDS) {
    add(
      at('TimeoutSeconds'),
      `TimeoutSeconds: ${machine.TimeoutSeconds}`,
      `above ${MAX_TIMER_SECONDS} s the execution timer overflows and the execution times out at once`,
    );
  }
  const states = isObject(machine.States) ? machine.States : {};
  for (const [name, state] of Object.entries(states)) {
    if (isObject(state)) checkState(state, at(`States.${name}`), add);
  }
}

function checkState(state: Json, path: string, add: Add) {
  const field = (key: string, reason: string) => {
    if (key in state) add(`${path}.${key}`, key, reason);
  };
  if (state.QueryLanguage !== undefined && state.QueryLanguage !== 'JSONPath') {
    add(`${path}.QueryLanguage`, `QueryLanguage: ${JSON.stringify(state.QueryLanguage)}`, 'JSONata is accepted but never evaluated');
  }
  field('Assign', 'variables are accepted but never assigned (a later `$var` reference fails with States.Runtime)');
  field('Output', 'JSONata Output is ignored: the state output is its raw result');
  field('Arguments', 'JSONata Arguments are ignored: the task receives the raw state input');
  checkResultPath(state.ResultPath, `${path}.ResultPath`, add);
  checkContextReferences(state, path, add, state.Type === 'Task' && isWaitForTaskToken(state.Resource));

  const catchers = Array.isArray(state.Catch) ? state.Catch : [];
  catchers.forEach((catcher, i) => {
    if (!isObject(catcher)) return;
    const at = `${path}.Catch[${i}]`;
    if ('Assign' in catcher) add(`${at}.Assign`, 'Assign', 'variables are accepted but never assigned');
    if ('Output' in catcher) add(`${at}.Output`, 'Output', 'JSONata Output is ignored');
    checkResultPath(catcher.ResultPath, `${at}.ResultPath`, add);
  });
  const retriers = Array.isArray(state.Retry) ? state.Retry : [];
  retriers.forEach((retrier, i) => {
    if (!isObject(retrier)) return;
    const interval = typeof retrier.IntervalSeconds === 'number' ? retrier.IntervalSeconds : 1;
    const rate = typeof retrier.BackoffRate === 'number' ? retrier.BackoffRate : 2;
    const attempts = typeof retrier.MaxAttempts === 'number' ? retrier.MaxAttempts : 3;
    const longest = Math.min(
      interval * rate ** Math.max(0, attempts - 1),
      typeof retrier.MaxDelaySeconds === 'number' ? retrier.MaxDelaySeconds : Infinity,
    );
    if (longest > MAX_TIMER_SECONDS) {
      add(
        `${path}.Retry[${i}]`,
        'Retry interval',
        `a wait of ${longest} s overflows the retry timer (retried after 1 ms); set MaxDelaySeconds ≤ ${MAX_TIMER_SECONDS}`,
      );
    }
  });

  switch (state.Type) {
    case 'Task': {
      field('HeartbeatSeconds', 'heartbeats are accepted but never enforced (no States.HeartbeatTimeout, no SendTaskHeartbeat)');
      field('HeartbeatSecondsPath', 'heartbeats are accepted but never enforced');
      field('Credentials', 'cross-account Credentials are ignored');
      if (!isLambdaInvoke(state.Resource)) {
        add(
          `${path}.Resource`,
          `Resource: ${JSON.stringify(state.Resource)}`,
          'only arn:aws:states:::lambda:invoke and lambda:invoke.waitForTaskToken are executed locally',
        );
        break;
      }
      const params = state.Parameters;
      if (!isObject(params) || !('FunctionName' in params || 'FunctionName.$' in params)) {
        add(`${path}.Parameters`, 'Parameters without FunctionName', 'a lambda:invoke task needs Parameters.FunctionName');
      } else if (params.InvocationType !== undefined && params.InvocationType !== 'RequestResponse') {
        add(
          `${path}.Parameters.InvocationType`,
          `InvocationType: ${JSON.stringify(params.InvocationType)}`,
          'only synchronous (RequestResponse) invocations are executed locally',
        );
      }
      break;
    }
    case 'Map': {
      for (const key of [
        'ItemReader',
        'ItemBatcher',
        'ResultWriter',
        'ToleratedFailurePercentage',
        'ToleratedFailurePercentagePath',
        'ToleratedFailureCount',
        'ToleratedFailureCountPath',
        'Label',
      ]) {
        field(key, 'Distributed Map fields are accepted but ignored');
      }
      field('Items', 'JSONata Items are ignored');
      const processor = isObject(state.ItemProcessor) ? state.ItemProcessor : isObject(state.Iterator) ? state.Iterator : undefined;
      const config = processor && isObject(processor.ProcessorConfig) ? processor.ProcessorConfig : undefined;
      if (config?.Mode === 'DISTRIBUTED')
        add(`${path}.ItemProcessor.ProcessorConfig.Mode`, 'Mode: "DISTRIBUTED"', 'runs as an inline Map: no child executions');
      if (processor) checkMachine(processor, `${path}.${isObject(state.ItemProcessor) ? 'ItemProcessor' : 'Iterator'}`, add, false);
      break;
    }
    case 'Parallel': {
      const branches = Array.isArray(state.Branches) ? state.Branches : [];
      branches.forEach((branch, i) => {
        if (isObject(branch)) checkMachine(branch, `${path}.Branches[${i}]`, add, false);
      });
      break;
    }
    case 'Pass':
      if ('Result' in state && !state.Result) {
        add(
          `${path}.Result`,
          `Result: ${JSON.stringify(state.Result)}`,
          'a falsy Result is ignored: the Pass state outputs its input instead',
        );
      }
      break;
    case 'Choice': {
      const choices = Array.isArray(state.Choices) ? state.Choices : [];
      choices.forEach((rule, i) => {
        if (!isObject(rule)) return;
        if ('Condition' in rule) add(`${path}.Choices[${i}].Condition`, 'Condition', 'JSONata conditions are never evaluated');
        if ('Assign' in rule) add(`${path}.Choices[${i}].Assign`, 'Assign', 'variables are accepted but never assigned');
        if ('Output' in rule) add(`${path}.Choices[${i}].Output`, 'Output', 'JSONata Output is ignored');
      });
      break;
    }
    case 'Wait':
      if (typeof state.Seconds === 'number' && state.Seconds > MAX_TIMER_SECONDS) {
        add(
          `${path}.Seconds`,
          `Seconds: ${state.Seconds}`,
          `above ${MAX_TIMER_SECONDS} s the wait timer overflows and the state waits 1 ms`,
        );
      }
      if (typeof state.Timestamp === 'string' && Date.parse(state.Timestamp) - Date.now() > MAX_TIMER_SECONDS * 1000) {
        add(
          `${path}.Timestamp`,
          `Timestamp: ${state.Timestamp}`,
          'more than ~24.8 days ahead the wait timer overflows and the state waits 1 ms',
        );
      }
      break;
  }
}

/** The library writes a result to `$.x` paths only: `"$"` (or `$[...]`) becomes a key literally named "$". */
function checkResultPath(resultPath: unknown, path: string, add: Add) {
  if (resultPath === undefined || resultPath === null) return;
  if (typeof resultPath !== 'string' || !/^\$\.[^.[]/.test(resultPath)) {
    add(
      path,
      `ResultPath: ${JSON.stringify(resultPath)}`,
      'only "$.field…" paths are applied; "$" or "$[…]" is written under a key named "$" instead',
    );
  }
}

/**
 * The context object the local runtime provides: Execution.{Id,Name,Input,StartTime,RoleArn,RedriveCount},
 * StateMachine.{Id,Name}, and Task.Token in `.waitForTaskToken` tasks. `$$.State.*` (name, entered time,
 * retry count) is never set by the library, and a token outside a callback task is meaningless.
 */
function checkContextReferences(state: Json, path: string, add: Add, callbackTask: boolean) {
  const seen = new Set<string>();
  const visit = (value: unknown) => {
    if (typeof value === 'string') {
      for (const match of value.matchAll(/\$\$\.(State|Task)\b[\w.]*/g)) {
        const ref = match[0];
        if (match[1] === 'Task' && callbackTask) continue;
        if (!seen.has(ref)) {
          seen.add(ref);
          add(
            path,
            ref,
            match[1] === 'State'
              ? 'the context object has no State.* locally (fails with States.Runtime)'
              : 'a task token only exists in .waitForTaskToken tasks',
          );
        }
      }
    } else if (Array.isArray(value)) value.forEach(visit);
    else if (isObject(value)) {
      for (const [key, v] of Object.entries(value)) {
        // Nested machines are checked on their own, with their own states.
        if (key === 'Branches' || key === 'ItemProcessor' || key === 'Iterator') continue;
        visit(v);
      }
    }
  };
  visit(state);
}
