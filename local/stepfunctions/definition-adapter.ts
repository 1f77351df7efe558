import { clone, isObject, type Json } from './lambda-task';
import { isLambdaInvoke, isWaitForTaskToken, MAX_TIMER_SECONDS } from './unsupported';

/** Sentinels for a top-level Fail state without Error/Cause (the library would invent `FailStateError` / a message). */
export const NO_ERROR = '@ghostless/no-error';
export const NO_CAUSE = '@ghostless/no-cause';

/** A Task state the runtime overrides, by state name. */
export interface TaskStateSpec {
  waitForTaskToken: boolean;
}

export interface AdaptOptions {
  /** Multiplies every Retry IntervalSeconds/MaxDelaySeconds (1 = AWS's own intervals). */
  retryScale: number;
  /** Handler file a Task's FunctionName maps to (undefined when unknown). */
  handlerFor: (functionName: string) => string | undefined;
}

/**
 * The copy the library runs (the definition itself is left as it is) and the Task states in it. Per Task:
 * Parameters become `{params: <original>, timeout: <TimeoutSeconds or TimeoutSecondsPath evaluated on the state
 * input>}` and `TimeoutSecondsPath: "$.timeout"` — the library would otherwise evaluate TimeoutSecondsPath
 * against the Parameters output (States.Runtime for CDK's `Timeout.at('$.x')`) and default to 60 s where AWS
 * has no limit. Retry intervals are scaled; top-level Fail states without Error/Cause get sentinels so
 * DescribeExecution leaves them empty as AWS does. Throws when a Task's FunctionName has no handler file.
 */
export function adaptDefinition(definition: Json, options: AdaptOptions): { definition: Json; taskStates: Map<string, TaskStateSpec> } {
  const adapted = clone(definition);
  return { definition: adapted, taskStates: new Map(adaptStates(adapted, options, true)) };
}

/** Rewrites `machine` (a copy `adaptDefinition` owns) in place; returns its Task states, nested ones included. */
function adaptStates(machine: Json, options: AdaptOptions, topLevel: boolean): [string, TaskStateSpec][] {
  const { retryScale, handlerFor } = options;
  const taskStates: [string, TaskStateSpec][] = [];
  const states = isObject(machine.States) ? machine.States : {};
  for (const [stateName, state] of Object.entries(states)) {
    if (!isObject(state)) continue;
    if (retryScale !== 1 && Array.isArray(state.Retry)) {
      for (const retrier of state.Retry as Json[]) {
        retrier.IntervalSeconds = (typeof retrier.IntervalSeconds === 'number' ? retrier.IntervalSeconds : 1) * retryScale;
        if (typeof retrier.MaxDelaySeconds === 'number') retrier.MaxDelaySeconds *= retryScale;
      }
    }
    switch (state.Type) {
      case 'Task': {
        if (!isLambdaInvoke(state.Resource)) break; // assertSupported already refused it
        taskStates.push([stateName, { waitForTaskToken: isWaitForTaskToken(state.Resource) }]);
        const params = state.Parameters;
        if (isObject(params) && typeof params.FunctionName === 'string' && !handlerFor(params.FunctionName)) {
          throw new Error(`Task state ${stateName}: no handler file for FunctionName ${params.FunctionName}`);
        }
        const timeout =
          typeof state.TimeoutSecondsPath === 'string'
            ? { 'timeout.$': state.TimeoutSecondsPath }
            : {
                timeout: Math.min(typeof state.TimeoutSeconds === 'number' ? state.TimeoutSeconds : MAX_TIMER_SECONDS, MAX_TIMER_SECONDS),
              };
        state.Parameters = { ...(params === undefined ? { 'params.$': '$' } : { params }), ...timeout };
        delete state.TimeoutSeconds;
        state.TimeoutSecondsPath = '$.timeout';
        break;
      }
      case 'Parallel':
        for (const branch of Array.isArray(state.Branches) ? (state.Branches as Json[]) : []) {
          taskStates.push(...adaptStates(branch, options, false));
        }
        break;
      case 'Map': {
        const processor = isObject(state.ItemProcessor) ? state.ItemProcessor : isObject(state.Iterator) ? state.Iterator : undefined;
        if (processor) taskStates.push(...adaptStates(processor, options, false));
        break;
      }
      case 'Fail':
        if (topLevel) {
          if (state.Error === undefined && state.ErrorPath === undefined) state.Error = NO_ERROR;
          if (state.Cause === undefined && state.CausePath === undefined) state.Cause = NO_CAUSE;
        }
        break;
    }
  }
  return taskStates;
}

/** `SFN_RETRY_SCALE` as a retry scale: unset or empty = 1; anything but a positive number throws. */
export function parseRetryScale(value: string | undefined): number {
  if (value === undefined || value === '') return 1;
  const scale = Number(value);
  if (!Number.isFinite(scale) || scale <= 0) throw new Error(`SFN_RETRY_SCALE must be a positive number, got ${JSON.stringify(value)}`);
  return scale;
}
