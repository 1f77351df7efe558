import { beforeAll, describe, expect, it } from 'vitest';
import { HANDLER_METADATA } from '../../infra/constructs/ghostless-function';
import { RUNNING_OVERHEAD_SECONDS, retryWaitSeconds, runningDeadlineSeconds } from '../../lambdas/domain/run-budget';
import type { CfnTemplate } from '../../local/cloud/resolver';
import { extractStateMachine } from '../../local/stepfunctions/template';
import { synth } from '../support/synth';

type Retrier = { ErrorEquals: string[]; IntervalSeconds?: number; MaxAttempts?: number; BackoffRate?: number; MaxDelaySeconds?: number };
type State = {
  Type: string;
  Next?: string;
  End?: boolean;
  Catch?: { ErrorEquals: string[]; Next: string }[];
  Choices?: { Next: string }[];
  Default?: string;
  Retry?: Retrier[];
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
  Parameters?: { FunctionName?: string };
  Seconds?: number;
};
type Definition = { StartAt: string; States: Record<string, State> };

/** Errors raised by the Invoke call itself (the function did not run): such a retry costs only its wait. */
const isInvokeError = (error: string) => error.startsWith('Lambda.');

let definition: Definition;
/** Function timeout (s) by the function ARN the definition invokes. */
const functionTimeouts = new Map<string, number>();

beforeAll(() => {
  const template = synth().template.toJSON() as CfnTemplate;
  const machine = extractStateMachine(template);
  definition = machine.definition as unknown as Definition;
  const timeoutByHandler = new Map<string, number>();
  for (const resource of Object.values(template.Resources ?? {})) {
    const handler = (resource.Metadata as Record<string, unknown> | undefined)?.[HANDLER_METADATA];
    if (resource.Type === 'AWS::Lambda::Function' && typeof handler === 'string') {
      timeoutByHandler.set(handler, Number((resource.Properties as { Timeout?: number }).Timeout ?? 3));
    }
  }
  for (const [arn, handler] of Object.entries(machine.handlers)) functionTimeouts.set(arn, timeoutByHandler.get(handler) as number);
}, 60_000);

/**
 * The longest a Task state can take while the job it drives is running: every Retry block used to the end (its
 * waits at their maximum), each function-error attempt at the full function timeout, the last attempt at its
 * TimeoutSeconds (a path such as `$.runTimeoutSeconds` takes the run limit). WaitForSlot counts only from the grant:
 * the rest of the invocation that granted, plus its retries.
 */
function stateSeconds(name: string, state: State, runSeconds: number): number {
  if (state.Type !== 'Task') return state.Type === 'Wait' ? (state.Seconds ?? 0) : 0;
  const fnTimeout = functionTimeouts.get(state.Parameters?.FunctionName ?? '');
  if (fnTimeout === undefined) throw new Error(`${name} invokes a function the template does not declare`);
  const last =
    name === 'WaitForSlot'
      ? fnTimeout
      : state.TimeoutSecondsPath === '$.runTimeoutSeconds'
        ? runSeconds
        : (state.TimeoutSeconds ?? fnTimeout);
  let total = last;
  for (const retry of state.Retry ?? []) {
    const attempts = retry.MaxAttempts ?? 3;
    total += retryWaitSeconds({
      maxAttempts: attempts,
      intervalSeconds: retry.IntervalSeconds ?? 1,
      backoffRate: retry.BackoffRate ?? 2,
      maxDelaySeconds: retry.MaxDelaySeconds,
    });
    if (!retry.ErrorEquals.every(isInvokeError)) total += attempts * fnTimeout;
  }
  return total;
}

/**
 * Longest path from the grant to the end of the execution, along Next, Catch and Choice branches. The grant comes
 * inside WaitForSlot, or while the execution stages its inputs (StageInputs, then WaitForSlot resumes at once). Not
 * along a Catch of JobFinished (the job is already final), nor into ProviderBusyBackoff (the job is back in the queue,
 * and its next grant sets a new deadline), nor into StageInputs (a running job is woken with its slot, never to stage).
 */
function longestRunningPath(runSeconds: number) {
  const memo = new Map<string, number>();
  const visit = (name: string, stack: string[]): number => {
    if (stack.includes(name)) throw new Error(`a running job's path loops through ${[...stack, name].join(' → ')}`);
    const known = memo.get(name);
    if (known !== undefined) return known;
    const state = definition.States[name] as State;
    const next = [
      state.Next,
      state.Default,
      ...(state.Choices ?? []).map((c) => c.Next),
      ...(state.Catch ?? []).filter((c) => !c.ErrorEquals.includes('JobFinished')).map((c) => c.Next),
    ]
      .filter((n): n is string => n !== undefined)
      .filter((n) => n !== 'ProviderBusyBackoff' && n !== 'StageInputs');
    const seconds = stateSeconds(name, state, runSeconds) + Math.max(0, ...next.map((n) => visit(n, [...stack, name])));
    memo.set(name, seconds);
    return seconds;
  };
  return Math.max(visit('WaitForSlot', []), visit('StageInputs', []));
}

describe('the running deadline', () => {
  it('covers the longest legal path of a running job in the synthesized state machine', () => {
    for (const runSeconds of [60, 900, 3600]) {
      const longest = longestRunningPath(runSeconds);
      expect(runningDeadlineSeconds(runSeconds)).toBeGreaterThanOrEqual(longest);
      console.info(`run limit ${runSeconds} s: longest running path ${longest} s, deadline ${runningDeadlineSeconds(runSeconds)} s`);
    }
  });

  it('is derived from the same policies the state machine uses, not padded beyond them', () => {
    // Equal, not just above: a Retry or timeout changed in the construct without run-budget.ts shows up here.
    expect(RUNNING_OVERHEAD_SECONDS).toBe(longestRunningPath(0));
  });

  it('counts the provider run limit as the RunOnProvider timeout the definition reads from the execution input', () => {
    expect(definition.States.RunOnProvider?.TimeoutSecondsPath).toBe('$.runTimeoutSeconds');
    expect(longestRunningPath(1000) - longestRunningPath(100)).toBe(900);
  });
});
