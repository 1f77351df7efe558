/**
 * Reserved concurrency for the functions the queue's hand-off depends on: a slot freed by Finalize is handed on by
 * its grant, the woken job starts in RunOnProvider, a new job parks in WaitForSlot, and a dead execution is finalized
 * by execution-ended. Reserving guarantees them capacity when the API or uploads use up the account's concurrency.
 *
 * Off by default: Lambda keeps at least 10 executions of the account unreserved, and a new account's limit is 10, so
 * any reservation fails its deploy. `-c reservedConcurrency=on` applies the sizes below (for MaxRunning 3: 28 in
 * all, so the account needs a limit of 38 or more); `-c reservedConcurrency='{"finalize":12}'` sets some by hand
 * (the rest keep these sizes). README "Reserved concurrency" has the arithmetic.
 */
export const HANDOFF_FUNCTIONS = ['wait-for-slot', 'run-on-provider', 'finalize', 'execution-ended'] as const;
export type HandoffFunction = (typeof HANDOFF_FUNCTIONS)[number];
export type ReservedConcurrency = Record<HandoffFunction, number>;

/**
 * - run-on-provider: one invocation per granted job, so at most MAX_RUNNING at once; twice that covers an invocation
 *   still answering (its outputs check) while the job after it starts.                                  3 → 6
 * - finalize: one per job ending; MAX_RUNNING running jobs plus queued jobs timing out or cancelled together: twice
 *   MAX_RUNNING plus 4.                                                                                  3 → 10
 * - wait-for-slot: one short invocation (~100 ms: record the token, one grant) per admitted job, and again after a
 *   ProviderBusy: 10 absorb 100 admissions a second; a burst beyond that is retried by the state machine.     10
 * - execution-ended: one per failed, timed-out or aborted execution; EventBridge retries a throttled delivery.   2
 */
export function defaultReservedConcurrency(maxRunning: number): ReservedConcurrency {
  return { 'run-on-provider': 2 * maxRunning, finalize: 2 * maxRunning + 4, 'wait-for-slot': 10, 'execution-ended': 2 };
}

/** The context value `reservedConcurrency`: absent or `off` → none; `on` → the sizes above; a JSON object → some by hand. */
export function parseReservedConcurrency(value: unknown, maxRunning: number): ReservedConcurrency | undefined {
  if (value === undefined || value === 'off' || value === false || value === 'false') return undefined;
  const sized = defaultReservedConcurrency(maxRunning);
  if (value === 'on' || value === true || value === 'true') return sized;
  let given: unknown = value;
  if (typeof value === 'string') {
    try {
      given = JSON.parse(value);
    } catch {
      throw new Error(`Context reservedConcurrency must be on, off or a JSON object such as {"finalize":10}, not ${value}`);
    }
  }
  if (typeof given !== 'object' || given === null || Array.isArray(given)) {
    throw new Error('Context reservedConcurrency must be on, off or a JSON object such as {"finalize":10}');
  }
  for (const [name, count] of Object.entries(given)) {
    if (!(HANDOFF_FUNCTIONS as readonly string[]).includes(name)) {
      throw new Error(`Context reservedConcurrency: "${name}" is not one of ${HANDOFF_FUNCTIONS.join(', ')}`);
    }
    if (!Number.isSafeInteger(count) || (count as number) < 1) {
      throw new Error(`Context reservedConcurrency: "${name}" must be a whole number of at least 1`);
    }
  }
  return { ...sized, ...(given as Partial<ReservedConcurrency>) };
}
