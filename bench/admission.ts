/**
 * Admission benchmark: N users submit one upscale-image job each, all at once, on the whole local stack
 * (DynamoDB Local, s3rver behind the POST-policy gateway, the real handlers, the real state machine).
 *
 *   npm run bench:admission              # N = 200
 *   npx tsx bench/admission.ts --n=500   # or BENCH_N=500; --poll=0 skips the API-polling pass,
 *                                        # --rate=0 the paced pass, --profile=1 adds a CPU profile of pass 1
 *
 * Prints figures only; never asserts timings.
 */
import './quiet-env';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { cpus, loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import S3rver from 's3rver';
import { apiClient } from '../local/api-client';
import { startDynamoDbLocal } from '../local/emulators/dynamodb';
import { startLocalStack } from '../local/local-stack';
import {
  type DynamoCall,
  dynamoDbLocalChildren,
  dynamoDbLocalPids,
  fmt,
  intOption,
  mapLimit,
  now,
  schedSample,
  schedShares,
  sleep,
  startCountingProxy,
  startCpuProfile,
  summary,
  table,
  testPng,
} from './support';

const N = intOption('n', 'BENCH_N', 200);
const POLL = intOption('poll', 'BENCH_POLL', 1) > 0;
const PROFILE = intOption('profile', 'BENCH_PROFILE', 0) > 0;
/** Pass 3 offers jobs at this steady rate instead of all at once (0 skips it): latency without a burst's queueing. */
const RATE = intOption('rate', 'BENCH_RATE', 10);
const PACED = Math.min(N, 50);
const POLL_EVERY_MS = 5;
const ADMIT_TIMEOUT_MS = 120_000;
const startedAt = now();

// s3rver emits 'event' synchronously while it stores the object (before it answers the gateway): record when.
const eventAt = new Map<string, number>();
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;
const s3rverProto = S3rver.prototype as unknown as { emit: (name: string | symbol, ...args: unknown[]) => boolean };
const originalEmit = s3rverProto.emit;
s3rverProto.emit = function emit(this: unknown, name: string | symbol, ...args: unknown[]) {
  if (name === 'event') {
    const key = (args[0] as { Records?: { s3?: { object?: { key?: string } } }[] })?.Records?.[0]?.s3?.object?.key ?? '';
    const jobId = UUID.exec(key)?.[0];
    if (jobId && !eventAt.has(jobId)) eventAt.set(jobId, now());
  }
  return originalEmit.call(this, name, ...args);
};

// And how long s3rver itself takes per request (from its HTTP server's 'request' to the response's 'finish').
const s3rverRequests: { method: string; ranged: boolean; t0: number; t1: number }[] = [];
const s3rverKoa = S3rver.prototype as unknown as { callback: () => (req: IncomingMessage, res: ServerResponse) => unknown };
const originalCallback = s3rverKoa.callback;
s3rverKoa.callback = function callback(this: unknown) {
  const handle = originalCallback.call(this);
  return (req: IncomingMessage, res: ServerResponse) => {
    const entry = { method: req.method ?? '', ranged: Boolean(req.headers.range), t0: now(), t1: Number.NaN };
    res.once('finish', () => {
      entry.t1 = now();
      s3rverRequests.push(entry);
    });
    return handle(req, res);
  };
};

interface Submission {
  jobId: string;
  token: string;
  presign: [number, number];
  upload: [number, number];
  /** First GET /api/jobs/{id} answering 200 (polling pass only). */
  visibleAt?: number;
  polls?: number;
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuSeconds(pid: number | string): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return Number.NaN;
  }
}

async function main() {
  console.log(`Admission benchmark: ${N} concurrent users, one upscale-image job each (16×16 PNG)`);
  console.log(
    `machine: ${cpus().length} cores, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} at start\n`,
  );
  const dynamo = await startDynamoDbLocal();
  const proxy = await startCountingProxy(dynamo.endpoint, { admit: 'balance = balance - :cost', intent: '{"S":"INTENT"}' });
  const stack = await startLocalStack({
    port: 0,
    inMemory: true,
    emulators: { dynamodbEndpoint: proxy.endpoint, tableName: 'bench-admission' },
    // A provider that never finishes within the bench: 3 jobs hold the slots, every other job parks and stays parked.
    env: { PROVIDER_LATENCY_MS: '600000', MAX_RUNNING: '3', SWEEP_INTERVAL_MS: '3600000', POWERTOOLS_LOG_LEVEL: 'ERROR' },
  });
  const api = apiClient(stack.url);
  const jvmPid = dynamoDbLocalChildren(dynamo.pid)[0];
  const png = await testPng(1);
  let userSeq = 0;

  const upload = async (token: string) => {
    const p0 = now();
    const presign = await api.call<{ jobId: string; uploads: { url: string; fields: Record<string, string> }[] }>('POST', '/api/uploads', {
      token,
      body: { tool: 'upscale-image', params: { scale: 2 }, files: [{ slot: 'image', contentType: 'image/png', size: png.length }] },
    });
    const p1 = now();
    if (presign.status !== 201) throw new Error(`presign failed: ${presign.status} ${JSON.stringify(presign.body)}`);
    const target = presign.body.uploads[0] as { url: string; fields: Record<string, string> };
    const form = new FormData();
    for (const [name, value] of Object.entries(target.fields)) form.append(name, value);
    form.append('file', new Blob([png], { type: 'image/png' }));
    const u0 = now();
    const response = await fetch(target.url, { method: 'POST', body: form });
    await response.arrayBuffer();
    const u1 = now();
    if (!response.ok) throw new Error(`upload failed: ${response.status}`);
    return { jobId: presign.body.jobId, token, presign: [p0, p1], upload: [u0, u1] } as Submission;
  };

  const users = (count: number) =>
    mapLimit(Array.from({ length: count }), 16, () => api.user(`bench-user-${String(++userSeq).padStart(5, '0')}`, 10));

  const admitCall = (calls: DynamoCall[]) => {
    const byJob = new Map<string, DynamoCall>();
    for (const call of calls) {
      if (call.op !== 'TransactWriteItems' || !call.ok || !call.marks.includes('admit')) continue;
      for (const id of call.ids) byJob.set(id, call);
    }
    return byJob;
  };

  async function waitAdmitted(jobIds: string[]) {
    const until = now() + ADMIT_TIMEOUT_MS;
    for (;;) {
      const admitted = admitCall(await proxy.calls());
      if (jobIds.every((id) => admitted.has(id))) return;
      if (now() > until) throw new Error(`only ${jobIds.filter((id) => admitted.has(id)).length}/${jobIds.length} jobs admitted`);
      await sleep(20);
    }
  }

  // Warm-up: loads every handler module, opens connections, JITs the hot paths; these 3 jobs take the 3 slots.
  const warm = await users(3);
  const warmJobs = await Promise.all(warm.map((u) => upload(u.token)));
  await waitAdmitted(warmJobs.map((j) => j.jobId));
  for (const job of warmJobs) await api.waitForJob(job.token, job.jobId, (j) => j.status === 'running');
  await sleep(500);

  async function pass(count: number, poll: boolean, profile: boolean, ratePerSecond = 0) {
    const who = await users(count);
    await proxy.reset();
    s3rverRequests.length = 0;
    const profiler = profile ? await startCpuProfile() : undefined;
    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    const nodeCpu0 = process.cpuUsage();
    const sched0 = schedSample();
    const jvmCpu0 = jvmPid ? cpuSeconds(jvmPid) : Number.NaN;
    const t0 = now();
    const submissions = await Promise.all(
      who.map(async (u, i) => {
        if (ratePerSecond > 0) await sleep(t0 + (i * 1000) / ratePerSecond - now());
        const submission = await upload(u.token);
        if (poll) {
          submission.polls = 0;
          for (;;) {
            submission.polls++;
            const reply = await api.job(u.token, submission.jobId);
            if (reply.status === 200) {
              submission.visibleAt = now();
              break;
            }
            if (now() - submission.upload[1] > ADMIT_TIMEOUT_MS) throw new Error(`job ${submission.jobId} never became visible`);
            await sleep(POLL_EVERY_MS);
          }
        }
        return submission;
      }),
    );
    await waitAdmitted(submissions.map((s) => s.jobId));
    const t1 = now();
    const areas = await profiler?.stop();
    loop.disable();
    const nodeCpu = process.cpuUsage(nodeCpu0);
    const sched = schedShares(sched0, schedSample());
    const jvmCpu = jvmPid ? cpuSeconds(jvmPid) - jvmCpu0 : Number.NaN;
    const calls = [...(await proxy.calls())];
    const s3rverServed = [...s3rverRequests];
    const maxInFlight = proxy.maxInFlight();
    // Every job must be there and queued (no failed admissions hiding in the figures).
    const statuses = await mapLimit(submissions, 16, async (s) => (await api.job(s.token, s.jobId)).body.status as string);
    const notQueued = statuses.filter((s) => s !== 'queued').length;
    return { submissions, calls, s3rverServed, maxInFlight, t0, t1, loop, nodeCpu, sched, jvmCpu, notQueued, areas };
  }

  const quiet = await pass(N, false, PROFILE);
  const polled = POLL ? await pass(N, true, false) : undefined;
  const paced = RATE > 0 ? await pass(PACED, false, false, RATE) : undefined;
  const benchSeconds = (now() - startedAt) / 1000;

  // ----------------------------------------------------------------------------------------------------------
  const report = (name: string, run: Awaited<ReturnType<typeof pass>>) => {
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
    const stat = (values: number[]) => {
      const s = summary(values);
      return [fmt(s.p50), fmt(s.p95), fmt(s.p99), fmt(s.max)];
    };
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
    latencyRows.push(['upload response → admission committed (job visible)', ...stat(latency)]);
    if (run.submissions.some((s) => s.visibleAt)) {
      latencyRows.push([`upload response → GET /api/jobs/{id} 200 (polled every ${POLL_EVERY_MS} ms)`, ...stat(visible)]);
    }
    latencyRows.push(['  client: POST /api/uploads (presign)', ...stat(stages.map((s) => s.presign))]);
    latencyRows.push(['  client: multipart POST through the gateway', ...stat(stages.map((s) => s.upload))]);
    latencyRows.push(['  S3 event emitted − upload response (negative: before)', ...stat(stages.map((s) => s.eventVsResponse))]);
    latencyRows.push(["  S3 event → handler's first DynamoDB call", ...stat(stages.map((s) => s.eventToHandler))]);
    latencyRows.push(['  handler: time inside DynamoDB calls', ...stat(stages.map((s) => s.handlerDynamo))]);
    latencyRows.push(['    of which the admission transaction itself', ...stat(stages.map((s) => s.admitTx))]);
    latencyRows.push(['  handler: time outside DynamoDB calls', ...stat(stages.map((s) => s.handlerOther))]);
    latencyRows.push(['    S3 inspection (GetObject range on s3rver + file-type sniff)', ...stat(stages.map((s) => s.inspect))]);
    latencyRows.push(['    between the other calls (SDK, waiting for a socket/CPU)', ...stat(stages.map((s) => s.between))]);
    latencyRows.push(['  S3 event → admission committed', ...stat(stages.map((s) => s.eventToAdmit))]);
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
  };

  report(`pass 1: ${N} users, no polling (visibility observed on the DynamoDB wire)`, quiet);
  if (polled) report(`pass 2: ${N} more users, each polling GET /api/jobs/{id} every ${POLL_EVERY_MS} ms after its upload`, polled);
  if (paced) report(`pass 3: ${PACED} more users arriving at a steady ${RATE} jobs/s (no burst), no polling`, paced);

  console.log(`Targets (local = cloud issue): ≥ 60 jobs/s for the 200-user burst, p99 < 500 ms (upload stored → job visible) on 2 cores. Figures above are measured, not asserted.
Legend:
  admission committed  the moment DynamoDB Local answered the admission TransactWriteItems (job + FIFO entry + user lock + debit)
                       on the wire, seen by a counting proxy between the handlers and DynamoDB Local. A consistent GetItem
                       (what GET /api/jobs/{id} does) returns the job from then on, so this is when the job became visible,
                       without any polling load on the system.
  upload response      when the browser-style multipart POST to the S3 gateway got its 204 (object stored in s3rver).
  S3 event emitted     when s3rver emitted ObjectCreated (it does so before it answers, so it can precede the response).
  admission phase      from the first POST /api/uploads of the burst to the last admission committed; all N users start at once.
  pass 2               the same, plus every client polling GET /api/jobs/{id} every ${POLL_EVERY_MS} ms from its upload response until 200:
                       the API-level figure, with the observer effect of ~N pollers on one Node process and DynamoDB Local.
  pass 3               jobs offered one by one at a fixed rate: the admission path's own latency when nothing queues.
  DynamoDB call rows   every call reaching DynamoDB Local during the pass (presign, admission, WaitForSlot parking, polling),
                       timed on the proxy's own thread (not delayed by the busy main thread). All handlers share one
                       DynamoDB client, whose HTTP agent holds at most 50 sockets: calls beyond that wait in the SDK
                       (the SDK warns "socket usage at capacity=50") and that wait counts as "outside DynamoDB calls".
  s3rver rows          each request s3rver served in this pass, from its HTTP server's 'request' event to the response's
                       'finish' (s3rver runs in the same Node process: its time includes waiting for that busy thread).
  main thread          Linux schedstat of the Node main thread: on a CPU vs runnable but waiting for one; a high
                       "waiting" share means the machine is oversubscribed (other processes, DynamoDB Local).
  Everything runs on this machine: one Node process (client + API + gateway + s3rver + handlers + Step Functions) and one JVM.
bench took ${fmt(benchSeconds, 0)} s; load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')} at the end (stack startup, warm-up, ${1 + (POLL ? 1 : 0) + (RATE > 0 ? 1 : 0)} pass(es)).`);

  await stack.stop();
  await proxy.stop();
  await dynamo.stop();
  const ours = [String(dynamo.pid), jvmPid].filter(Boolean);
  const left = dynamoDbLocalPids();
  const leftOurs = left.filter((pid) => ours.includes(pid));
  console.log(
    leftOurs.length
      ? `WARNING: our DynamoDB Local is still running: ${leftOurs.join(' ')}`
      : `cleanup: stack stopped, our DynamoDB Local (pids ${ours.join(', ')}) is gone; pgrep -f DynamoDBLocal: ${left.length ? `${left.join(' ')} (not ours)` : 'none'}.`,
  );
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
