import { fmt, percentileCells, summary, table } from '../figures';
import { CAPACITY, GROUP, HANDOFF_JOBS, LATENCY_MS, LONG_WAIT_S, type Scenario, SHORT_WAIT_S, THROUGHPUT_JOBS } from './options';
import type { HandoffResult, Result, WaitsResult } from './results';

/** The queue bench's report: Ghostless next to the polling semaphore, row by row, the step-by-step turnover and the legend. */
export function printReport(results: Map<Scenario, { result?: Result; error?: string }>) {
  const get = <T extends Result>(s: Scenario) => results.get(s)?.result as T | undefined;
  const gh = get<HandoffResult>('ghostless-handoff');
  const bh = get<HandoffResult>('baseline-handoff');
  const bs = get<HandoffResult>('baseline-handoff-spread');
  const gt = get<HandoffResult>('ghostless-throughput');
  const bt = get<HandoffResult>('baseline-throughput');
  const gw = get<WaitsResult>('ghostless-waits');
  const bw = get<WaitsResult>('baseline-waits');
  const ratio = (g: number, b: number) => (Number.isFinite(g) && Number.isFinite(b) && g !== 0 ? `${fmt(b / g, 1)}×` : '—');
  const mean = (values: number[] | undefined) => summary(values ?? []).mean;
  const range = (values: number[] | undefined) => {
    const s = summary(values ?? []);
    return s.n === 0 ? '—' : s.min === s.max ? fmt(s.mean, 0) : `${fmt(s.mean, 1)} (${fmt(s.min, 0)}–${fmt(s.max, 0)})`;
  };
  const jobsPerSecond = (r: HandoffResult | undefined) => (r ? r.jobs / (r.drainMs / 1000) : Number.NaN);

  const rows: (string | number)[][] = [['figure', 'Ghostless (task token)', 'polling semaphore', 'baseline / Ghostless']];
  const p = (r: HandoffResult | undefined, pick: (r: HandoffResult) => number[], q: 50 | 99) =>
    r ? summary(pick(r))[q === 50 ? 'p50' : 'p99'] : Number.NaN;
  /** A row comparing two samples by their mean (shown as mean (min–max)). */
  const compare = (label: string, g: number[] | undefined, b: number[] | undefined) =>
    rows.push([label, range(g), range(b), ratio(mean(g), mean(b))]);
  /** A row comparing one percentile of two samples. */
  const pct = (
    label: string,
    g: HandoffResult | undefined,
    b: HandoffResult | undefined,
    pick: (r: HandoffResult) => number[],
    q: 50 | 99,
  ) => rows.push([label, fmt(p(g, pick, q)), fmt(p(b, pick, q)), ratio(p(g, pick, q), p(b, pick, q))]);

  for (const q of [50, 99] as const) pct(`a. hand-off p${q}: slot released → next task created (ms)`, gh, bh, (r) => r.handoff, q);
  for (const q of [50, 99] as const) pct(`a. turnover p${q}: provider task ended → next task created (ms)`, gh, bh, (r) => r.turnover, q);
  for (const q of [50, 99] as const) pct(`a. hand-off p${q}, baseline arrivals spread over 3 s (ms)`, gh, bs, (r) => r.handoff, q);
  compare('a. state transitions per job', gh?.transitions, bh?.transitions);
  compare('a. state transitions per job, baseline spread', gh?.transitions, bs?.transitions);
  compare('a. DynamoDB write calls per job', gh?.writesPerJob, bh?.writesPerJob);
  compare('a. DynamoDB write calls per job, baseline spread', gh?.writesPerJob, bs?.writesPerJob);
  const count = (r: HandoffResult | undefined) => (r ? `${r.succeeded}/${r.jobs} ok, ${r.handoff.length} hand-offs` : '—');
  rows.push(['a. jobs succeeded, hand-offs measured', count(gh), count(bh), '']);
  for (const [i, label] of ['~0 s', `~${SHORT_WAIT_S} s`, `~${LONG_WAIT_S} s`].entries()) {
    const g = gw?.groups[i];
    const b = bw?.groups[i];
    rows.push([`b. waited ${label}: measured wait (s)`, range(g?.waitS), range(b?.waitS), '']);
    compare(`b. waited ${label}: state transitions per job`, g?.transitions, b?.transitions);
    compare(`b. waited ${label}: DynamoDB write calls per job`, g?.writeCalls, b?.writeCalls);
    compare(`b. waited ${label}:   of which queue/run (after admission)`, g?.queueWrites, b?.queueWrites);
    rows.push([`b. waited ${label}:   failed conditional writes among them`, range(g?.failedWrites), range(b?.failedWrites), '']);
    rows.push([`b. waited ${label}:   items written (a transaction counts its items)`, range(g?.writeItems), range(b?.writeItems), '']);
    rows.push([`b. waited ${label}: DynamoDB reads per job (attributable)`, range(g?.reads), range(b?.reads), '']);
  }
  const idle = (w: WaitsResult | undefined) =>
    w ? `${fmt(w.idle.calls / w.idle.seconds, 2)} (${fmt(w.idle.writes / w.idle.seconds, 2)} writes)` : '—';
  rows.push([
    `b. DynamoDB calls/s while ${GROUP} jobs wait (all callers)`,
    idle(gw),
    idle(bw),
    gw && bw ? ratio(gw.idle.calls / gw.idle.seconds, bw.idle.calls / bw.idle.seconds) : '',
  ]);
  const g = jobsPerSecond(gt);
  const b = jobsPerSecond(bt);
  rows.push([`c. throughput, provider latency 0, ${THROUGHPUT_JOBS} jobs (jobs/s)`, fmt(g, 2), fmt(b, 2), ratio(g, b)]);
  pct('c. hand-off p50 at latency 0 (ms)', gt, bt, (r) => r.handoff, 50);
  compare('c. state transitions per job', gt?.transitions, bt?.transitions);
  compare('c. DynamoDB write calls per job', gt?.writesPerJob, bt?.writesPerJob);
  const d = (r: HandoffResult | undefined) => (r ? `${fmt(summary(r.dynamoMs).p50)} / ${fmt(summary(r.dynamoMs).p99)}` : '—');
  rows.push(['DynamoDB Local call latency p50 / p99 during a (ms)', d(gh), d(bh), '']);
  rows.push(['DynamoDB Local call latency p50 / p99 during c (ms)', d(gt), d(bt), '']);
  const c = (r: HandoffResult | undefined) => (r ? `${fmt(r.sched.onCpu * 100, 0)} % / ${fmt(r.sched.waiting * 100, 0)} %` : '—');
  rows.push(['main thread during a: on a CPU / waiting for one (% of wall)', c(gh), c(bh), '']);
  rows.push(['main thread during c: on a CPU / waiting for one (% of wall)', c(gt), c(bt), '']);
  rows.push([
    'step retries, all jobs of a / c',
    gh && gt ? `${gh.retries} / ${gt.retries}` : '—',
    bh && bt ? `${bh.retries} / ${bt.retries}` : '—',
    '',
  ]);
  console.log(table(rows));

  for (const [name, r] of [
    ['a', gh],
    ['c', gt],
  ] as const) {
    if (!r?.steps) continue;
    console.log();
    const rows: (string | number)[][] = [
      [`Ghostless turnover, step by step (scenario ${name}, ms; A frees the slot B takes)`, 'p50', 'p95', 'p99', 'max'],
    ];
    for (const [step, values] of Object.entries(r.steps)) rows.push([step, ...percentileCells(values)]);
    rows.push(["= hand-off: slot released → B's task created", ...percentileCells(r.handoff)]);
    rows.push(["= turnover: A's task ended → B's task created", ...percentileCells(r.turnover)]);
    console.log(table(rows));
  }
  for (const [scenario, r] of results) {
    if (r.error) console.log(`${scenario}: ${r.error}`);
    for (const failure of (r.result as HandoffResult | undefined)?.failures ?? [])
      console.log(`${scenario}: a job did not succeed: ${failure}`);
    const reasons = new Map<string, number>();
    for (const reason of (r.result as HandoffResult | undefined)?.retryReasons ?? []) reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    for (const [reason, count] of reasons) console.log(`${scenario}: ${count} step retr${count === 1 ? 'y' : 'ies'} on ${reason}`);
  }

  console.log(`
Targets: hand-off p50 < 50 ms and p99 < 250 ms; transitions per job constant whatever the wait. Measured, not asserted.
Legend:
  ratio        baseline ÷ Ghostless for every row (above 1: the baseline takes longer or does more; for throughput,
               below 1 means the baseline is slower).
  hand-off     Ghostless: the Finalize transaction that deletes the job's SLOT item is committed (seen on the DynamoDB wire)
               → the next holder of that same slot has its task created at the local provider (provider's own timestamp).
               Baseline: the k-th "Release Lock" decrement committed → the (k+${CAPACITY})-th "Do Work" started (a counter
               semaphore has no slot ids, so releases and acquisitions are paired in order).
  turnover     the previous task's end at the provider → the next task created: hand-off plus, for Ghostless, the webhook,
               CollectOutputs (copying outputs into S3) and Finalize; for the baseline, the Release Lock task.
  step by step the Ghostless turnover cut at timestamps taken inside the local Step Functions runtime (SendTaskSuccess
               received, each Lambda handler's start and end), on the DynamoDB wire and at the provider.
  a.           ${HANDOFF_JOBS} jobs from distinct users, provider latency ${LATENCY_MS} ms ±10%. Ghostless: 3 blocker jobs hold the slots
               while all ${HANDOFF_JOBS} are admitted, then are cancelled, so every hand-off happens with a full queue. Baseline:
               ${HANDOFF_JOBS} executions started at once (Do Work sleeps ${LATENCY_MS} ms ±10%): a burst, so every waiter then
               polls in step, the poller's worst case; "spread": the same ${HANDOFF_JOBS} started evenly over one 3 s poll
               interval, so the waiters' polls interleave, its best case (hand-off ≈ 3 s ÷ number of waiters).
  b.           per job, for jobs that waited ~0 s (free slots), ~${SHORT_WAIT_S} s and ~${LONG_WAIT_S} s behind 3 blockers (measured wait:
               Ghostless startedAt − createdAt; baseline lock acquired − execution started). Transitions = StateEntered
               events in the execution's history (retries are listed apart; AWS bills both).
  writes       PutItem, UpdateItem, DeleteItem, TransactWriteItems calls whose request names the job (key, value or
               execution ARN), counted by a proxy between the code and DynamoDB Local, failed conditional writes included
               (they consume capacity too); "items" counts each transaction item. Ghostless figures run from the upload
               (intent, input stored, admission transaction) to Finalize; "queue/run" leaves admission out. Ghostless's
               failed writes are grant transactions that lost a race to a concurrent grant (several releases or parks in
               the same instant), not waiting. The baseline has no admission step at all.
  calls/s      every DynamoDB call during the ${LONG_WAIT_S - SHORT_WAIT_S} s when only ${GROUP} jobs wait behind the blockers (Ghostless:
               would include its sweeper's reads, on the deployed 60 s schedule).
  c.           ${THROUGHPUT_JOBS} jobs, provider latency 0 (Ghostless's local provider still really upscales the 16×16 PNG and calls
               back), from a full queue (Ghostless: blockers cancelled; baseline: all started at once) until the last
               job finished.
  main thread  Linux schedstat of the scenario process's main thread: on a CPU vs runnable but waiting for one. A high
               "waiting" share means the machine is oversubscribed and every step above is stretched by it.
  Everything is local: one Node process per scenario (client, API, handlers, s3rver, provider, interpreter) and one
  DynamoDB Local JVM shared by all. The two waiting scenarios run side by side; the baseline's timed scenarios run
  while both are parked in their quiet wait; Ghostless's timed scenarios run alone afterwards.`);
}
