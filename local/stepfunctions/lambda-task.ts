/**
 * How a Lambda Task looks to the interpreter: plain JSON values, errors shaped as Lambda reports them (the
 * library matches Retry/Catch on their names), task-token substitution, function names from ARNs.
 */

export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
export const clone = <T>(value: T): T => (value === undefined ? value : JSON.parse(JSON.stringify(value)));

/**
 * A task error that must neither be retried nor caught: it only unwinds an execution that was already stopped
 * (aborted or timed out) so the library's loop and timers end instead of running further states.
 */
export class ExecutionClosed extends Error {
  override name = 'ExecutionClosed';
  readonly isRetryable = false;
  readonly isCatchable = false;
}

/** What Lambda reports for an uncaught error: Error = errorType, Cause = `{"errorType","errorMessage"}`. */
export function lambdaError(thrown: unknown): Error {
  const errorType = thrown instanceof Error ? thrown.name : typeof thrown;
  const errorMessage = thrown instanceof Error ? thrown.message : String(thrown);
  return namedError(errorType, JSON.stringify({ errorType, errorMessage }));
}

/** The library matches Retry/Catch on `error.name` and reports `error.message` as the Cause. */
export function namedError(name: string, cause: string): Error {
  const error = new Error(cause);
  error.name = name;
  return error;
}

/** Replaces the per-execution `$$.Task.Token` placeholder with this state entry's own token. */
export function substitute(value: unknown, placeholder: string, token: string): unknown {
  if (typeof value === 'string') return value.includes(placeholder) ? value.split(placeholder).join(token) : value;
  if (Array.isArray(value)) return value.map((v) => substitute(v, placeholder, token));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, placeholder, token)]));
  return value;
}

export const functionNameOf = (value: string) =>
  /^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)/.exec(value)?.[1] ?? value.split(':')[0] ?? value;
