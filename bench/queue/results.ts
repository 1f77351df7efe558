import type { ExecutionEvent } from '../../local/stepfunctions/execution-model';
import { type DynamoCall, WRITE_OPS } from '../counting-proxy';
import { GROUP, LONG_WAIT_S, SHORT_WAIT_S } from './options';

/** What a scenario process measures and sends to the parent, and the figures both queues compute alike. */

export interface HandoffResult {
  jobs: number;
  succeeded: number;
  /** Slot released (committed) → next job's task created at the provider, ms. */
  handoff: number[];
  /** Slot released → next job's grant committed (Ghostless only), ms. */
  toGrant?: number[];
  /** Grant committed → task created at the provider (Ghostless only), ms. */
  grantToCreate?: number[];
  /** Ghostless only: named steps of the hand-off and of the turnover, ms each (see printReport). */
  steps?: Record<string, number[]>;
  /** Previous job's provider task ended → next job's task created, ms (webhook, outputs, finalize included). */
  turnover: number[];
  /** Queue released (or executions started) → last job finished, ms. */
  drainMs: number;
  /** Status and error code of every job that did not succeed. */
  failures: string[];
  /** Latency of every DynamoDB call during the scenario, ms (as the code sees DynamoDB Local). */
  dynamoMs: number[];
  /** DynamoDB write calls naming each job, from upload to finish (failed conditional writes included). */
  writesPerJob: number[];
  /** The child's main thread during the measured phase: share of wall time on a CPU, and runnable but waiting for one. */
  sched: { onCpu: number; waiting: number };
  retries: number;
  /** "State: Error" of each retry. */
  retryReasons: string[];
  transitions: number[];
}

interface WaitGroup {
  label: string;
  waitS: number[];
  transitions: number[];
  retries: number[];
  writeCalls: number[];
  writeItems: number[];
  /** Writes after admission (queue, run, finalize); for the baseline, all writes. */
  queueWrites: number[];
  failedWrites: number[];
  reads: number[];
}

export interface WaitsResult {
  groups: WaitGroup[];
  idle: { seconds: number; calls: number; writes: number; waiting: number };
}

export type Result = HandoffResult | WaitsResult;

/** A scenario process's message to the parent: its result or error, or that its jobs are parked in the quiet wait. */
export type ChildMessage = { result?: Result; error?: string; idle?: boolean };

export const tellParent = (message: ChildMessage) =>
  new Promise<void>((resolve) => {
    if (!process.send) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });

export type HistoryStats = ReturnType<typeof historyStats>;

/** Transitions (StateEntered) and retries (StateRetried, with the state and error that caused each) of one execution. */
export function historyStats(events: ExecutionEvent[]) {
  const reasons: string[] = [];
  let lastError = '';
  for (const event of events) {
    if (event.type === 'StateFailed') lastError = (event as { Error?: string }).Error ?? '';
    if (event.type === 'StateRetried') reasons.push(`${(event as { state?: { name?: string } }).state?.name}: ${lastError}`);
  }
  return { transitions: events.filter((e) => e.type === 'StateEntered').length, retries: reasons.length, reasons };
}

/** Writes, transitions and retries of a hand-off or throughput scenario's jobs. */
export function perJobFigures(jobIds: string[], calls: DynamoCall[], histories: HistoryStats[]) {
  return {
    writesPerJob: jobIds.map((jobId) => calls.filter((c) => WRITE_OPS.has(c.op) && c.ids.includes(jobId)).length),
    retries: histories.reduce((sum, h) => sum + h.retries, 0),
    retryReasons: histories.flatMap((h) => h.reasons),
    transitions: histories.map((h) => h.transitions),
  };
}

/** One job of a waiting scenario: how long it waited and its execution's history. */
export interface WaitedJob {
  jobId: string;
  waitS: number;
  history: HistoryStats | undefined;
}

/**
 * The waiting scenarios' figures, built the same way for both queues: per group of jobs (waited ~0 s, short, long)
 * the transitions, writes and reads that name each job; and every call while only the long group waited.
 */
export function waitFigures(
  calls: DynamoCall[],
  waited: { zero: WaitedJob[]; short: WaitedJob[]; long: WaitedJob[] },
  idle: { from: number; to: number },
): WaitsResult {
  const idleCalls = calls.filter((c) => c.t0 >= idle.from && c.t0 < idle.to);
  const group = (label: string, jobs: WaitedJob[]): WaitGroup => {
    const mine = (jobId: string) => calls.filter((c) => c.ids.includes(jobId));
    const writes = (jobId: string) => mine(jobId).filter((c) => WRITE_OPS.has(c.op));
    return {
      label,
      waitS: jobs.map((j) => j.waitS),
      transitions: jobs.map((j) => j.history?.transitions ?? Number.NaN),
      retries: jobs.map((j) => j.history?.retries ?? Number.NaN),
      writeCalls: jobs.map((j) => writes(j.jobId).length),
      writeItems: jobs.map((j) => writes(j.jobId).reduce((sum, c) => sum + c.items, 0)),
      // Admission's writes carry these marks; the baseline has no admission, so this is all of its writes.
      queueWrites: jobs.map((j) => writes(j.jobId).filter((c) => !c.marks.includes('admit') && !c.marks.includes('intent')).length),
      failedWrites: jobs.map((j) => writes(j.jobId).filter((c) => !c.ok).length),
      reads: jobs.map((j) => mine(j.jobId).filter((c) => !WRITE_OPS.has(c.op)).length),
    };
  };
  return {
    groups: [group('~0 s', waited.zero), group(`~${SHORT_WAIT_S} s`, waited.short), group(`~${LONG_WAIT_S} s`, waited.long)],
    idle: {
      seconds: (idle.to - idle.from) / 1000,
      calls: idleCalls.length,
      writes: idleCalls.filter((c) => WRITE_OPS.has(c.op)).length,
      waiting: GROUP,
    },
  };
}
