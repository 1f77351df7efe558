/**
 * Named fault points ("failpoints") for the fault-injection tests (test/faults). Production code calls
 * `await checkpoint('grant:after-commit', jobId)` between two writes; nothing happens unless a test
 * armed that name in the same process. Unarmed, a checkpoint is one Map-size check (no promise, no
 * allocation). There is deliberately no way to arm a fault from the environment: only code running in
 * the process (a test) can.
 *
 * - `crash` throws a `SimulatedCrash`, as if the Lambda died right there: the writes before it are
 *   committed, the ones after it never happen, and the caller sees a failed invocation (Step Functions
 *   Retry/Catch, Lambda's async retries, a 500 from the API) exactly as for a real crash.
 * - `delay` waits `delayMs` and goes on, to widen a race window.
 */

/** The checkpoints the domain and adapters declare (any string is accepted, these are the ones wired). */
export type FaultPoint =
  /** s3-event handler: an S3 record arrived, nothing read or written yet (subject: the object key; a crash ×3 = the event is lost). */
  | 's3-event:received'
  /** admission: every input is recorded on the upload intent, the admit transaction not yet run (subject: the job id). */
  | 'admit:before-commit'
  /** admission: the admit transaction committed (job queued + queue entry + lock + debit), StartExecution not yet called. */
  | 'admit:after-commit'
  /** queue: the grant transaction committed (slot + running), the parked execution not yet woken. */
  | 'grant:after-commit'
  /** lifecycle.finish: the finalize transaction committed (slot, lock, queue entry released, refund), grantNext not yet run. */
  | 'finalize:after-commit'
  /** lifecycle.cancel: the job is finalized as cancelled; the provider task and the execution not yet stopped. */
  | 'cancel:after-finalize'
  /** lifecycle.startRun: the provider task exists, its id and the run token not yet recorded. */
  | 'run:after-create'
  /** healing.onExecutionEnded: the EventBridge event arrived; the job not yet healed (a crash ×3 = the event is lost). */
  | 'execution-ended:before-heal'
  /** healing.sweep: a sweep is starting (a crash = the scheduled sweeper fails this time). */
  | 'sweep:start'
  /** sfn-workflow adapter: StartExecution about to be sent (subject: the job id). */
  | 'sfn:start-execution'
  /** sfn-workflow adapter: SendTaskSuccess about to be sent (subject: the task token). */
  | 'sfn:send-task-success'
  /** sfn-workflow adapter: DescribeExecution about to be sent (subject: the job id; a crash with a ThrottlingException = throttled). */
  | 'sfn:describe-execution';

type FaultAction = 'crash' | 'delay';

export interface FaultSpec {
  action: FaultAction;
  /** How many times it fires before disarming itself (default 1; Infinity for "until disarmed"). */
  times?: number;
  /** Only for this subject (a job id, a task token…), or those the predicate accepts. */
  subject?: string | ((subject: string | undefined) => boolean);
  /** `crash`: the error to throw (default a SimulatedCrash naming the point). */
  error?: Error | (() => Error);
  /** `delay`: how long to wait (default 1000 ms). */
  delayMs?: number;
}

/** One time a fault fired: which point, for which subject, when (epoch ms). */
export interface FaultFiring {
  point: string;
  subject: string | undefined;
  action: FaultAction;
  at: number;
}

/** What a `crash` throws by default: the invocation "died" at `point`. */
export class SimulatedCrash extends Error {
  override name = 'SimulatedCrash';
  constructor(readonly point: string) {
    super(`Simulated crash at ${point}`);
  }
}

interface Armed extends FaultSpec {
  remaining: number;
}

interface Registry {
  armed: Map<string, Armed[]>;
  fired: FaultFiring[];
  /** Set in a local Lambda sandbox: armed points live in the local stack's process, which decides. */
  bridge?: (point: string, subject: string | undefined) => Promise<void> | undefined;
  listeners?: Set<(points: string[]) => void>;
}

// On globalThis so that every copy of this module in a process (test runner and handlers) shares one registry.
const KEY = Symbol.for('ghostless.faults');
const registry: Registry = ((globalThis as Record<symbol, unknown>)[KEY] as Registry | undefined) ?? { armed: new Map(), fired: [] };
(globalThis as Record<symbol, unknown>)[KEY] = registry;

/**
 * A named fault point. Returns undefined (nothing to await) unless this point is armed for this subject;
 * then a promise that rejects (`crash`) or resolves after a pause (`delay`).
 */
export function checkpoint(point: FaultPoint, subject?: string): Promise<void> | undefined {
  if (registry.bridge) return registry.bridge(point, subject);
  if (registry.armed.size === 0) return undefined;
  const specs = registry.armed.get(point);
  const spec = specs?.find((s) => matches(s, subject));
  if (!spec || !specs) return undefined;
  if (--spec.remaining <= 0) {
    specs.splice(specs.indexOf(spec), 1);
    if (specs.length === 0) {
      registry.armed.delete(point);
      notifyArmed();
    }
  }
  registry.fired.push({ point, subject, action: spec.action, at: Date.now() });
  if (spec.action === 'delay') return new Promise((resolve) => setTimeout(resolve, spec.delayMs ?? 1000));
  const error = typeof spec.error === 'function' ? spec.error() : (spec.error ?? new SimulatedCrash(point));
  return Promise.reject(error);
}

function matches(spec: FaultSpec, subject: string | undefined) {
  if (spec.subject === undefined) return true;
  return typeof spec.subject === 'function' ? spec.subject(subject) : spec.subject === subject;
}

registry.listeners ??= new Set();
const armListeners = registry.listeners;
const notifyArmed = () => {
  for (const listener of armListeners) listener([...registry.armed.keys()]);
};

/** Tells `listener` the armed point names now and on every change (the local stack forwards them to its sandboxes). */
export function onArmedChange(listener: (points: string[]) => void): () => void {
  armListeners.add(listener);
  listener([...registry.armed.keys()]);
  return () => armListeners.delete(listener);
}

/** Arms `point`; several specs may be armed on one point (the first matching one fires). Returns a disarm function. */
export function arm(point: FaultPoint, spec: FaultSpec): () => void {
  const armed: Armed = { ...spec, remaining: spec.times ?? 1 };
  const specs = registry.armed.get(point) ?? [];
  specs.push(armed);
  registry.armed.set(point, specs);
  notifyArmed();
  return () => {
    const current = registry.armed.get(point);
    if (!current?.includes(armed)) return;
    current.splice(current.indexOf(armed), 1);
    if (current.length === 0) registry.armed.delete(point);
    notifyArmed();
  };
}

/** Disarms one point, or every point. */
export function disarm(point?: FaultPoint) {
  if (point) registry.armed.delete(point);
  else registry.armed.clear();
  notifyArmed();
}

/** Every firing so far (optionally of one point), oldest first. */
export function firings(point?: FaultPoint): FaultFiring[] {
  return registry.fired.filter((f) => !point || f.point === point);
}

/** Forgets the firings (armed points stay armed). */
export function clearFirings() {
  registry.fired.length = 0;
}
