/**
 * The job machine's timing, in one place: the step functions' timeouts and the state machine's Retry policies
 * (infra/constructs/job-machine.ts builds both from these), and the running deadline derived from them.
 * test/infra/run-budget.test.ts recomputes the longest path from the synthesized definition and checks the deadline.
 */

/** Function timeouts of the job machine's steps, in seconds. */
export const STEP_TIMEOUT_SECONDS = {
  waitForSlot: 30,
  /** Stages the inputs of the next job in line (upload retries: 3 tries, ≤ 4 s apart), as RunOnProvider would. */
  stageInputs: 120,
  /** Stages the inputs (upload retries: 3 tries, ≤ 4 s apart) and creates the task (3 tries, ≤ 4 s apart). */
  runOnProvider: 120,
  /** Streams every output in turn, one at a time: the largest (OUTPUT_LIMITS, 2 GiB) at 7.2 MB/s or faster. */
  collectOutputs: 300,
  finalize: 30,
} as const;

/** One Retry block of the state machine. */
export interface RetryPolicy {
  maxAttempts: number;
  intervalSeconds: number;
  backoffRate: number;
  maxDelaySeconds?: number;
}

/** LambdaInvoke's own Retry (Lambda.ServiceException, AWSLambdaException, SdkClientException, ClientExecutionTimeout): CDK's defaults. */
const LAMBDA_SERVICE_RETRY: RetryPolicy = { maxAttempts: 6, intervalSeconds: 2, backoffRate: 2 };
/** Lambda.TooManyRequestsException on every task: 1, 2, 4 … 30 s (full jitter only shortens the waits). */
export const THROTTLE_RETRY: RetryPolicy = { maxAttempts: 10, intervalSeconds: 1, backoffRate: 2, maxDelaySeconds: 30 };
/** CollectOutputs: a transient failure moving an output (`Error`) is tried again. */
export const COLLECT_RETRY: RetryPolicy = { maxAttempts: 3, intervalSeconds: 2, backoffRate: 2 };
/** Finalize and FinalizeFailure: any error (States.ALL). */
export const FINALIZE_RETRY: RetryPolicy = { maxAttempts: 6, intervalSeconds: 1, backoffRate: 2 };

/** The longest a Retry block waits between attempts in all: Σ min(maxDelay, interval · rate^k), k < maxAttempts. */
export function retryWaitSeconds({ maxAttempts, intervalSeconds, backoffRate, maxDelaySeconds = Number.POSITIVE_INFINITY }: RetryPolicy) {
  let total = 0;
  for (let k = 0; k < maxAttempts; k++) total += Math.min(maxDelaySeconds, intervalSeconds * backoffRate ** k);
  return total;
}

/**
 * A Lambda invoke error (service exception, throttle) is the Invoke call's own answer: the function did not run, so
 * such a retry costs its wait only. A function error retried (`Error`, States.ALL) may come at the end of a full
 * function timeout: each of those attempts counts the timeout.
 */
const invokeRetries = retryWaitSeconds(LAMBDA_SERVICE_RETRY) + retryWaitSeconds(THROTTLE_RETRY); // 126 + 181 = 307 s
const attempts = (policy: RetryPolicy) => 1 + policy.maxAttempts;
const finalizeStep = attempts(FINALIZE_RETRY) * STEP_TIMEOUT_SECONDS.finalize + retryWaitSeconds(FINALIZE_RETRY) + invokeRetries; // 7·30 + 63 + 307 = 580 s

/**
 * Seconds from a grant to the job's last possible finalize, on top of the provider run limit. The longest legal path
 * of a running job (ProviderBusy goes back to the queue and gets a new deadline at its next grant):
 *   StageInputs, granted while its execution stages the inputs: 120 + 307 invoke retries     =  427
 *   WaitForSlot, parking again (or the rest of the invocation that granted): 30 + 307         =  337
 *   RunOnProvider: runSeconds (its TimeoutSeconds, from state entry: staging and create retries inside) + 307
 *   CollectOutputs: 4 attempts · 300 + 14 (Error retry) + 307                                = 1521
 *   Finalize, all of it failing: 7 · 30 + 63 + 307                                             =  580
 *   FinalizeFailure (Finalize's Catch), the same                                               =  580
 *   runSeconds + 427 + 337 + 307 + 1521 + 580 + 580 = runSeconds + 3752 s (63 min); 900 s of run → 4652 s.
 * A driver that dies sooner is healed sooner: the sweeper sees its execution ended; the deadline only bounds a
 * live execution.
 */
export const RUNNING_OVERHEAD_SECONDS =
  STEP_TIMEOUT_SECONDS.stageInputs +
  invokeRetries +
  STEP_TIMEOUT_SECONDS.waitForSlot +
  invokeRetries +
  invokeRetries +
  attempts(COLLECT_RETRY) * STEP_TIMEOUT_SECONDS.collectOutputs +
  retryWaitSeconds(COLLECT_RETRY) +
  invokeRetries +
  2 * finalizeStep;

/** When a job granted now must have finished, at the latest, while its execution is still running. */
export const runningDeadlineSeconds = (runSeconds: number) => runSeconds + RUNNING_OVERHEAD_SECONDS;
