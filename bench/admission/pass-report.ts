import type { IntervalHistogram } from 'node:perf_hooks';
import type { DynamoCall } from '../counting-proxy';
import { fmt, percentileCells, summary, table } from '../figures';
import { eventAt, type S3rverRequest } from './s3rver-timing';

/** One admission pass's tables: throughput, the per-job stages of the latency, DynamoDB and s3rver, the CPU. */

/** How often the polling pass's clients GET their job until it answers 200. */
export const POLL_EVERY_MS = 5;

export interface Submission {
  jobId: string;
  token: string;
  presign: [number, number];
  upload: [number, number];
  /** First GET /api/jobs/{id} answering 200 (polling pass only). */
  visibleAt?: number;
  polls?: number;
}

/** What one pass measured. */
export interface PassRun {
  submissions: Submission[];
  calls: DynamoCall[];
  s3rverServed: S3rverRequest[];
  maxInFlight: number;
  t0: number;
  t1: number;
  loop: IntervalHistogram;
  nodeCpu: NodeJS.CpuUsage;
  sched: { onCpu: number; waiting: number };
  jvmCpu: number;
  notQueued: number;
  areas: [string, number][] | undefined;
}

/** Each job's committed admission transaction, as seen on the wire. */
export const admitCall = (calls: DynamoCall[]) => {
  const byJob = new Map<string, DynamoCall>();
  for (const call of calls) {
    if (call.op !== 'TransactWriteItems' || !call.ok || !call.marks.includes('admit')) continue;
    for (const id of call.ids) byJob.set(id, call);
  }
  return byJob;
};

export function reportPass(name: string, run: PassRun) {
  const admitted = admitCall(run.calls);
  const lastAdmit = Math.max(...run.submissions.map((s) => (admitted.get(s.jobId) as DynamoCall).t1));
  const firstUploadDone = Math.min(...run.submissions.map((s) => s.upload[1]));
  const lastUploadDone = Math.max(...run.submissions.map((s) => s.upload[1]));
  const latency = run.submissions.map((s) => (admitted.get(s.jobId) as DynamoCall).t1 - s.upload[1]);
  const visible = run.submissions.map((s) => (s.visibleAt ?? Number.NaN) - s.upload[1]);
  const wall = (lastAdmit - run.t0) / 1000;

  // Per-job stages, from the wire: the s3-event handler's first DynamoDB call is GetItem on its INTENT.
  const stages = run.submissions.map((s) => {
    const admit = admitted.get(s.jobId) as DynamoCall;
    const event = eventAt.get(s.jobId) ?? Number.NaN;
    const handlerCalls = run.calls.filter((c) => c.ids.includes(s.jobId) && c.t0 >= event - 1 && c.t1 <= admit.t1);
    const first = Math.min(...handlerCalls.map((c) => c.t0));
    const dynamoMs = handlerCalls.reduce((sum, c) => sum + (c.t1 - c.t0), 0);
    // The handler's sequence: GetItem intent, GetItem job, [S3 GetObject range + file-type sniff], UpdateItem intent
    // (input stored), TransactWriteItems (admission). The gap before "input stored" is the S3 inspection.
    const getJob = handlerCalls.find((c) => c.op === 'GetItem' && !c.marks.includes('intent'));
    const stored = handlerCalls.find((c) => c.op === 'UpdateItem' && c.marks.includes('intent'));
    const inspect = stored && getJob ? stored.t0 - getJob.t1 : Number.NaN;
    return {
      presign: s.presign[1] - s.presign[0],
      upload: s.upload[1] - s.upload[0],
      eventVsResponse: event - s.upload[1],
      eventToHandler: first - event,
      handlerDynamo: dynamoMs,
      handlerOther: admit.t1 - first - dynamoMs,
      inspect,
      between: admit.t1 - first - dynamoMs - inspect,
      admitTx: admit.t1 - admit.t0,
      eventToAdmit: admit.t1 - event,
      handlerCalls: handlerCalls.length,
    };
  });
  console.log(`── ${name} ──`);
  const rows: (string | number)[][] = [['figure', 'value']];
  rows.push(['jobs admitted', `${run.submissions.length - run.notQueued}/${run.submissions.length} queued`]);
  rows.push(['admission phase (first presign → last job admitted)', `${fmt(wall * 1000, 0)} ms`]);
  rows.push(['throughput: admitted jobs / admission phase', `${fmt(run.submissions.length / wall)} jobs/s`]);
  rows.push([
    'throughput: admitted jobs / (first upload stored → last admitted)',
    `${fmt(run.submissions.length / ((lastAdmit - firstUploadDone) / 1000))} jobs/s`,
  ]);
  rows.push(['uploads stored between', `${fmt(firstUploadDone - run.t0, 0)} and ${fmt(lastUploadDone - run.t0, 0)} ms`]);
  console.log(table(rows));
  console.log();
  const latencyRows: (string | number)[][] = [['latency (ms)', 'p50', 'p95', 'p99', 'max']];
  latencyRows.push(['upload response → admission committed (job visible)', ...percentileCells(latency)]);
  if (run.submissions.some((s) => s.visibleAt)) {
    latencyRows.push([`upload response → GET /api/jobs/{id} 200 (polled every ${POLL_EVERY_MS} ms)`, ...percentileCells(visible)]);
  }
  latencyRows.push(['  client: POST /api/uploads (presign)', ...percentileCells(stages.map((s) => s.presign))]);
  latencyRows.push(['  client: multipart POST through the gateway', ...percentileCells(stages.map((s) => s.upload))]);
  latencyRows.push(['  S3 event emitted − upload response (negative: before)', ...percentileCells(stages.map((s) => s.eventVsResponse))]);
  latencyRows.push(["  S3 event → handler's first DynamoDB call", ...percentileCells(stages.map((s) => s.eventToHandler))]);
  latencyRows.push(['  handler: time inside DynamoDB calls', ...percentileCells(stages.map((s) => s.handlerDynamo))]);
  latencyRows.push(['    of which the admission transaction itself', ...percentileCells(stages.map((s) => s.admitTx))]);
  latencyRows.push(['  handler: time outside DynamoDB calls', ...percentileCells(stages.map((s) => s.handlerOther))]);
  latencyRows.push(['    S3 inspection (GetObject range on s3rver + file-type sniff)', ...percentileCells(stages.map((s) => s.inspect))]);
  latencyRows.push(['    between the other calls (SDK, waiting for a socket/CPU)', ...percentileCells(stages.map((s) => s.between))]);
  latencyRows.push(['  S3 event → admission committed', ...percentileCells(stages.map((s) => s.eventToAdmit))]);
  console.log(table(latencyRows));
  console.log();
  // DynamoDB Local as the handlers see it, during this pass.
  const ops = new Map<string, number[]>();
  for (const call of run.calls) ops.set(call.op, [...(ops.get(call.op) ?? []), call.t1 - call.t0]);
  const opRows: (string | number)[][] = [
    ['DynamoDB call (all callers) / s3rver request, this pass', 'calls', 'p50 ms', 'p99 ms', 'max ms'],
  ];
  for (const [op, values] of [...ops].sort((a, b) => b[1].length - a[1].length)) {
    const s = summary(values);
    opRows.push([op, values.length, fmt(s.p50), fmt(s.p99), fmt(s.max)]);
  }
  opRows.push(['max DynamoDB calls in flight', run.maxInFlight, '', '', '']);
  for (const [label, pick] of [
    ['s3rver: ranged GET (the inspection), served in', (r: { method: string; ranged: boolean }) => r.method === 'GET' && r.ranged],
    ['s3rver: POST (upload from the gateway), served in', (r: { method: string; ranged: boolean }) => r.method === 'POST'],
  ] as const) {
    const values = run.s3rverServed.filter(pick).map((r) => r.t1 - r.t0);
    const x = summary(values);
    opRows.push([label, values.length, fmt(x.p50), fmt(x.p99), fmt(x.max)]);
  }
  console.log(table(opRows));
  console.log();
  const loopMs = (ns: number) => fmt(ns / 1e6);
  const cpuRows: (string | number)[][] = [['resources during the pass', 'value']];
  cpuRows.push([
    'Node event-loop delay p50 / p99 / max',
    `${loopMs(run.loop.percentile(50))} / ${loopMs(run.loop.percentile(99))} / ${loopMs(run.loop.max)} ms`,
  ]);
  cpuRows.push([
    'Node CPU (whole stack + client, 1 thread)',
    `${fmt(((run.nodeCpu.user + run.nodeCpu.system) / 1e6 / wall) * 100, 0)} % of one core`,
  ]);
  cpuRows.push([
    'Node main thread: on a CPU / runnable but waiting for one',
    `${fmt(run.sched.onCpu * 100, 0)} % / ${fmt(run.sched.waiting * 100, 0)} % of wall time`,
  ]);
  cpuRows.push(['DynamoDB Local JVM CPU', `${fmt((run.jvmCpu / wall) * 100, 0)} % of one core`]);
  cpuRows.push(['DynamoDB calls per admitted job (handlers, all kinds)', fmt(run.calls.length / run.submissions.length)]);
  cpuRows.push(['s3-event handler DynamoDB calls per job', fmt(summary(stages.map((s) => s.handlerCalls)).mean)]);
  if (run.submissions.some((s) => s.polls)) {
    cpuRows.push(['GET polls per job', fmt(summary(run.submissions.map((s) => s.polls ?? 0)).mean)]);
  }
  console.log(table(cpuRows));
  console.log();
  if (run.areas) {
    const total = run.areas.reduce((sum, [, ms]) => sum + ms, 0);
    const areaRows: (string | number)[][] = [['Node main thread CPU profile of the pass (self time)', 'ms', 'share']];
    for (const [area, ms] of run.areas.slice(0, 16)) areaRows.push([area, fmt(ms, 0), `${fmt((ms / total) * 100)} %`]);
    console.log(table(areaRows));
    console.log();
  }
}
