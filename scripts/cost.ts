/**
 * `npm run cost [-- --measure [--jobs N]]` — what 1,000 jobs cost on AWS, from the synthesized assembly.
 *
 * Derived from the template: the state transitions of the success path (walking the state machine's definition),
 * which functions run per job, their memory sizes. Assumed (named below, printed with the table): how long each
 * invocation runs, how long the browser waits and polls. DynamoDB and S3 calls per job are per-function counts:
 * by default the ones written below (read off the code paths); with `--measure` they are counted on a local run of
 * the same assembly (every AWS call of every function passes the local IAM gateway, which records it) and the
 * table says so. Prices are us-east-1 list prices, on-demand, free tiers ignored.
 */
import { DEFAULT_LIMITS } from '../lambdas/domain/catalog';
import type { CfnTemplate } from '../local/cloud/resolver';
import { extractStateMachine, synthesizeTemplate } from '../local/stepfunctions/template';

/**
 * us-east-1 list prices as published on aws.amazon.com/<service>/pricing (2025-01; this machine is offline, so they
 * were not re-checked here: compare before quoting).
 */
export const PRICES_AS_OF = '2025-01';
export const PRICE = {
  /** Step Functions Standard, per state transition ($0.025 per 1,000). */
  sfnTransition: 0.025 / 1000,
  /** Lambda on Arm (Graviton), per GB-second, and per request ($0.20 per million). */
  lambdaGbSecondArm: 0.0000133334,
  lambdaRequest: 0.2 / 1e6,
  /** DynamoDB on demand, per write and read request unit ($0.625 / $0.125 per million, since 2024-11). */
  dynamoWrite: 0.625 / 1e6,
  dynamoRead: 0.125 / 1e6,
  /** S3 Standard: PUT, COPY, POST, LIST ($0.005 per 1,000); GET and others ($0.0004 per 1,000). */
  s3Write: 0.005 / 1000,
  s3Read: 0.0004 / 1000,
  /** API Gateway HTTP API, per request (first 300 million a month: $1.00 per million). */
  httpApiRequest: 1 / 1e6,
};

/** The SPA polls GET /api/jobs/{id} once a second while its page is visible (web/src/flows/job.ts, visibleMs). */
export const POLL_INTERVAL_SECONDS = 1;
/** Assumed: the user watches the job for this long (queue wait + provider run) with the page visible. */
export const ASSUMED_WATCH_SECONDS = 90;
/** Per job besides polling: POST /api/uploads, GET /api/jobs/active and GET /api/credits when the page opens, history after. */
export const OTHER_API_REQUESTS_PER_JOB = 4;
/** Assumed billed duration of one invocation, per handler (an image job; a 500 MB video takes far longer to collect). */
export const ASSUMED_DURATION_MS: Record<string, number> = {
  api: 60,
  's3-event': 400,
  'wait-for-slot': 150,
  'run-on-provider': 1500,
  'collect-outputs': 3000,
  finalize: 150,
};

/** Calls per job on the success path of one single-input job, read off the code (lambdas/adapters/dynamo/). */
const CODE_COUNTS: Record<string, { dynamoRead: number; dynamoWrite: number; s3Read: number; s3Write: number }> = {
  // Per API request: the JWT user's sign-up check (1 read) and the job (1 read).
  api: { dynamoRead: 2, dynamoWrite: 0, s3Read: 0, s3Write: 0 },
  // Reads the upload intent, records the input, copies it to admitted/, admits in one 5-item transaction (×2 units).
  's3-event': { dynamoRead: 2, dynamoWrite: 11, s3Read: 1, s3Write: 1 },
  // Records the token (1 write), grant: free slots, queue heads, provider capacity, the job (4 reads), a 3-item
  // grant transaction (×2) and a re-read.
  'wait-for-slot': { dynamoRead: 6, dynamoWrite: 7, s3Read: 0, s3Write: 0 },
  // The job, the token and marker, the task id.
  'run-on-provider': { dynamoRead: 1, dynamoWrite: 2, s3Read: 0, s3Write: 0 },
  // The job; one output streamed in (a multipart upload: create, one part, complete).
  'collect-outputs': { dynamoRead: 1, dynamoWrite: 0, s3Read: 0, s3Write: 3 },
  // The job, a 4-item finalize transaction (×2), and the next grant's reads.
  finalize: { dynamoRead: 4, dynamoWrite: 8, s3Read: 0, s3Write: 0 },
};

type Counts = (typeof CODE_COUNTS)[string];

interface FunctionInfo {
  handler: string;
  memoryMb: number;
  timeoutS: number;
}

type State = { Type: string; Next?: string; Default?: string; End?: boolean; Parameters?: { FunctionName?: string } };

/** Every Ghostless function of the template, by handler file. */
function functionsOf(template: CfnTemplate): Map<string, FunctionInfo> {
  const functions = new Map<string, FunctionInfo>();
  for (const resource of Object.values(template.Resources ?? {})) {
    const handler = (resource.Metadata as Record<string, unknown> | undefined)?.['ghostless:handler'];
    if (resource.Type !== 'AWS::Lambda::Function' || typeof handler !== 'string') continue;
    const props = resource.Properties as { MemorySize?: number; Timeout?: number };
    functions.set(handler, { handler, memoryMb: props.MemorySize ?? 128, timeoutS: props.Timeout ?? 3 });
  }
  return functions;
}

/** States entered on the success path (each is a billed transition) and the handler each Task invokes. */
function successPath(template: CfnTemplate) {
  const machine = extractStateMachine(template);
  const definition = machine.definition as { StartAt: string; States: Record<string, State> };
  const states: string[] = [];
  const invoked: string[] = [];
  for (let name: string | undefined = definition.StartAt; name; ) {
    if (states.includes(name)) throw new Error(`the success path loops at ${name}`);
    const state = definition.States[name] as State;
    states.push(name);
    const handler = machine.handlers[state.Parameters?.FunctionName ?? ''];
    if (state.Type === 'Task' && handler) invoked.push(handler);
    // A Choice goes on by its Default: the slot, not the staging detour of a job that waited.
    name = state.End || state.Type === 'Succeed' || state.Type === 'Fail' ? undefined : (state.Next ?? state.Default);
  }
  return { states, invoked };
}

/** Runs `jobs` image jobs on the local stack (the same assembly) and counts each function's AWS calls per job. */
async function measure(jobs: number): Promise<{ perJob: Record<string, Counts>; apiRequests: number }> {
  const { startLocalStack } = await import('../local/local-stack');
  const { apiClient } = await import('../local/api-client');
  const { image } = await import('../test/support/media');
  const stack = await startLocalStack({ port: 0, inMemory: true, env: { SWEEP_INTERVAL_MS: '3600000', PROVIDER_LATENCY_MS: '50' } });
  let apiRequests = 0;
  try {
    const api = apiClient(stack.url);
    for (let i = 0; i < jobs; i++) {
      const user = await api.user(`cost-${Date.now()}-${i}`, 5);
      const jobId = await api.submit(user.token, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: await image() }]);
      apiRequests++;
      const job = await api.waitForJob(user.token, jobId, undefined, 60_000);
      if (job.status !== 'succeeded') throw new Error(`job ${jobId} ended ${job.status}`);
    }
    const perJob: Record<string, Counts> = {};
    for (const record of stack.iamUsage()) {
      const handler = [...functionsOf(stack.assembly.template).keys()].find((h) => stack.functionName(h) === record.functionName);
      if (!handler || handler === 'sweeper') continue;
      perJob[handler] ??= { dynamoRead: 0, dynamoWrite: 0, s3Read: 0, s3Write: 0 };
      const counts = perJob[handler];
      const action = record.action.split(':')[1] ?? '';
      if (record.action.startsWith('dynamodb:')) {
        if (/^(Get|Query|Scan|BatchGet|ConditionCheck)/.test(action)) counts.dynamoRead += 1 / jobs;
        else counts.dynamoWrite += 1 / jobs;
      } else if (record.action.startsWith('s3:')) {
        if (/^(Get|Head|List)/.test(action)) counts.s3Read += 1 / jobs;
        else counts.s3Write += 1 / jobs;
      }
    }
    // The api function served the local-only token/credits calls and the test's tight polling too: per request.
    const apiCalls = stack.iamUsage().filter((r) => r.functionName === stack.functionName('api')).length;
    console.log(`measured: ${jobs} jobs; the api function made ${apiCalls} AWS calls`);
    return { perJob, apiRequests };
  } finally {
    await stack.stop();
  }
}

const money = (n: number) => `$${n.toFixed(4)}`;
const pad = (cells: string[], widths: number[]) =>
  cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');

async function main() {
  const args = process.argv.slice(2);
  const measured = args.includes('--measure');
  const jobsArg = args.find((a) => a.startsWith('--jobs='));
  const template = await synthesizeTemplate();
  const functions = functionsOf(template);
  const { states, invoked } = successPath(template);

  let counts = CODE_COUNTS;
  if (measured) {
    const { perJob } = await measure(Number(jobsArg?.slice('--jobs='.length) ?? 5));
    // The api function's own calls are modelled per request (CODE_COUNTS.api): the local run's polling is not a browser's.
    counts = { ...perJob, api: CODE_COUNTS.api as Counts };
    for (const [handler, c] of Object.entries(perJob)) {
      console.log(
        `  ${handler}: DynamoDB ${c.dynamoRead.toFixed(1)} reads, ${c.dynamoWrite.toFixed(1)} writes; S3 ${c.s3Read.toFixed(1)} reads, ${c.s3Write.toFixed(1)} writes per job`,
      );
    }
  }

  const polls = Math.ceil(ASSUMED_WATCH_SECONDS / POLL_INTERVAL_SECONDS);
  const apiRequests = polls + OTHER_API_REQUESTS_PER_JOB;
  const invocations: Record<string, number> = { api: apiRequests, 's3-event': 1 };
  for (const handler of invoked) invocations[handler] = (invocations[handler] ?? 0) + 1;

  const rows: { item: string; perJob: number; unit: string; per1000: number }[] = [];
  const add = (item: string, perJob: number, unit: string, price: number) =>
    rows.push({ item, perJob, unit, per1000: perJob * 1000 * price });
  add('Step Functions state transitions (success path)', states.length, 'transitions', PRICE.sfnTransition);
  let gbSeconds = 0;
  let requests = 0;
  for (const [handler, n] of Object.entries(invocations)) {
    const fn = functions.get(handler);
    if (!fn) throw new Error(`the template has no function for ${handler}`);
    gbSeconds += (n * (fn.memoryMb / 1024) * (ASSUMED_DURATION_MS[handler] ?? 100)) / 1000;
    requests += n;
  }
  add('Lambda compute (Arm)', gbSeconds, 'GB-s', PRICE.lambdaGbSecondArm);
  add('Lambda requests', requests, 'requests', PRICE.lambdaRequest);
  // Counts are per job for the job's functions, per request for the api function.
  const total = (key: keyof Counts) =>
    Object.entries(counts).reduce((sum, [handler, c]) => sum + c[key] * (handler === 'api' ? apiRequests : 1), 0);
  add('DynamoDB writes', total('dynamoWrite'), 'WRU', PRICE.dynamoWrite);
  add('DynamoDB reads', total('dynamoRead'), 'RRU', PRICE.dynamoRead);
  add('S3 PUT/COPY/POST (browser upload included)', total('s3Write') + 1, 'requests', PRICE.s3Write);
  add('S3 GET (browser download of the output)', total('s3Read') + 1, 'requests', PRICE.s3Read);
  add(`API Gateway HTTP API (${polls} polls + ${OTHER_API_REQUESTS_PER_JOB} others)`, apiRequests, 'requests', PRICE.httpApiRequest);

  const widths = [58, 10, 12, 14];
  console.log(`Cost per 1,000 jobs (upscale-image, one input, one output), us-east-1 list prices of ${PRICES_AS_OF}`);
  console.log(pad(['item', 'per job', 'unit', 'per 1,000 jobs'], widths));
  for (const row of rows) console.log(pad([row.item, row.perJob.toFixed(2), row.unit, money(row.per1000)], widths));
  console.log(pad(['total', '', '', money(rows.reduce((sum, r) => sum + r.per1000, 0))], widths));
  console.log('');
  console.log(
    `Derived from the synthesized assembly: ${states.length} transitions on the success path (${states.join(' → ')}; a ProviderBusy retry adds 3, staging ahead while waiting 4),`,
  );
  console.log(
    `the functions invoked per job (${Object.entries(invocations)
      .map(([h, n]) => `${h} ×${n}`)
      .join(', ')}) and their memory sizes`,
  );
  console.log(`(${[...functions.values()].map((f) => `${f.handler} ${f.memoryMb} MB`).join(', ')}).`);
  console.log(
    `Assumed: invocation durations ${JSON.stringify(ASSUMED_DURATION_MS)} ms; the browser polls every ${POLL_INTERVAL_SECONDS} s`,
  );
  console.log(
    `for ${ASSUMED_WATCH_SECONDS} s of visible wait (hidden pages back off to 60 s); 1 KB items (a transaction item is 2 units).`,
  );
  console.log(
    measured
      ? 'DynamoDB and S3 calls per job: MEASURED on a local run of this assembly (IAM gateway records, sweeper excluded; one record per\n' +
          'item action, so a transaction item, billed 2 units, counts once: writes are up to 2× low); api per request from the code.'
      : 'DynamoDB and S3 calls per job: read off the code paths (run with --measure to count them on a local run).',
  );
  console.log(
    `Not counted: the sweeper (1,440 runs a day whatever the load), CloudFront, CloudWatch, storage (≤ ${DEFAULT_LIMITS.image / 1024 / 1024} MB images kept 7 days), the provider.`,
  );
}

await main();
