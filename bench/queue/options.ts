import { intOption } from '../support';

/** The queue bench's knobs (flags or environment), shared by the parent and every scenario process. */

export const CAPACITY = 3;
export const HANDOFF_JOBS = intOption('jobs', 'BENCH_QUEUE_JOBS', 30);
export const THROUGHPUT_JOBS = intOption('throughput-jobs', 'BENCH_THROUGHPUT_JOBS', 60);
export const GROUP = intOption('group', 'BENCH_WAIT_GROUP', 3);
export const LONG_WAIT_S = intOption('long', 'BENCH_LONG_WAIT', 60);
export const SHORT_WAIT_S = intOption('short', 'BENCH_SHORT_WAIT', 10);
export const LATENCY_MS = intOption('latency', 'BENCH_PROVIDER_LATENCY', 200);
/** `--only=ghostless-handoff,baseline-handoff` runs a subset (the table shows — for the rest). */
export const ONLY = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice('--only='.length)
  .split(',')
  .filter(Boolean);

/** Request-body substrings that identify the Ghostless writes the figures need (see lambdas/adapters/dynamo/). */
export const MARKERS = {
  admit: 'balance = balance - :cost',
  intent: '{"S":"INTENT"}',
  grant: 'SET #status = :running',
  finalize: 'REMOVE waitToken, runToken',
  acquire: 'attribute_not_exists(#lockownerid)',
  release: 'REMOVE #lockownerid',
};

export type Scenario =
  | 'ghostless-handoff'
  | 'ghostless-throughput'
  | 'ghostless-waits'
  | 'baseline-handoff'
  | 'baseline-handoff-spread'
  | 'baseline-throughput'
  | 'baseline-waits';
