/**
 * Bounded retries of transient provider failures (network errors, timeouts, HTTP 5xx, RunningHub 500/808),
 * with exponential backoff and full jitter: many Lambdas meeting the same outage spread their retries out.
 */

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  baseMs: number;
  capMs: number;
}

export interface RetryClock {
  sleep(ms: number): Promise<void>;
  /** In [0, 1). */
  random(): number;
}

export const realClock: RetryClock = {
  sleep: (ms) => new Promise((done) => setTimeout(done, ms)),
  random: Math.random,
};

/** Errors worth another try; they stay plain `Error`s, so Step Functions still sees `Error` once retries run out. */
const transient = new WeakSet<object>();

/** Transient errors the provider answered itself (500, 808): the request was refused, nothing was created. */
const refused = new WeakSet<object>();

export function transientError(message: string, options: { answered?: boolean } = {}): Error {
  const error = new Error(message);
  transient.add(error);
  if (options.answered) refused.add(error);
  return error;
}

export const isTransient = (error: unknown) => typeof error === 'object' && error !== null && transient.has(error);
export const isRefusal = (error: unknown) => typeof error === 'object' && error !== null && refused.has(error);

/** Pause before try `attempt + 1`: uniform in [0, min(cap, base·2^(attempt−1))). */
export const backoffMs = (policy: RetryPolicy, attempt: number, random: number) =>
  Math.floor(random * Math.min(policy.capMs, policy.baseMs * 2 ** (attempt - 1)));

export async function withRetries<T>(policy: RetryPolicy, clock: RetryClock, run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if (!isTransient(error) || attempt >= policy.attempts) throw error;
      await clock.sleep(backoffMs(policy, attempt, clock.random()));
    }
  }
}
