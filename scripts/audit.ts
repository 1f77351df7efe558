/**
 * `npm run audit [-- --json]` — what the job table looks like right now, and every straggler.
 *
 * Per tool: jobs by status, the oldest queued and running ages. Then every straggler the sweeper would
 * heal on its next run (same rules as `lambdas/domain/healing.ts`: grace HEAL_GRACE_MS, queue timeout,
 * deadline, execution status, lost wake-ups), plus the ones it would NOT heal (marked "sweeper: no") — an
 * queued job without a queue entry… — and, for every user, that the balance equals the sum of the ledger.
 * With the provider key it also compares the tasks the key runs (`/uc/openapi/accountStatus` currentTaskCounts)
 * with the running jobs that hold one (or sent a create): the difference is tasks Ghostless cannot account for —
 * the key's other clients', or ones it lost. The key: RUNNINGHUB_API_KEY, else the Secrets Manager secret
 * RUNNINGHUB_API_KEY_SECRET (--provider-key-secret; with --aws, the stack output ProviderApiKeySecret), read with
 * the caller's credentials and never printed; the endpoint: RUNNINGHUB_BASE_URL, else the stack's
 * RunningHubBaseUrl parameter, else https://www.runninghub.ai.
 *
 * Where it looks:
 *   --local [--data-dir DIR]   the local stack's data (DATA_DIR, default .local/): uses the DynamoDB Local
 *                              that is serving that directory if the stack runs, else starts one on it.
 *   AWS_ENDPOINT_URL_DYNAMODB  any DynamoDB endpoint (e.g. the local stack's; tests).
 *   --aws [--stack NAME]       the account in the usual AWS environment (AWS_PROFILE, AWS_REGION, …); what is not
 *                              given is read from the stack (default Ghostless): outputs TableName, StateMachineArn,
 *                              ProviderApiKeySecret and parameter RunningHubBaseUrl.
 * Without --local/--aws: an endpoint if set, else AWS when AWS credentials are in the environment, else local.
 *
 * Other flags: --table NAME (TABLE_NAME; default the stack's, locally ghostless-jobs), --grace-ms N (HEAL_GRACE_MS, default 120000),
 * --max-running N (MAX_RUNNING, default 3), --state-machine-arn ARN (STATE_MACHINE_ARN), --json.
 * Execution status needs Step Functions: in AWS, or with AWS_ENDPOINT_URL_SFN + STATE_MACHINE_ARN. Without it
 * (a local stack's executions live in its process) driver checks are reported as "unverified".
 * Read-only: the audit never writes to the table.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient, type SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, ScanCommand, TransactGetCommand } from '@aws-sdk/lib-dynamodb';
import { jobKey, slotKey } from '../lambdas/adapters/dynamo/keys';
import { secretString } from '../lambdas/adapters/provider-key';
import { accountTaskCount } from '../lambdas/adapters/runninghub';
import { SfnWorkflow } from '../lambdas/adapters/sfn-workflow';
import { diagnoseJob, type Repair } from '../lambdas/domain/healing';
import { isTerminal, type JobRecord, type JobStatus } from '../lambdas/domain/jobs';
import type { ExecutionStatus } from '../lambdas/domain/ports';
import { deployedStack } from './deployed-stack';

type JobRepair = Exclude<Repair, 'slot_leak' | 'lock_leak' | 'lost_admission'>;
const REPAIR_DETAILS: Record<JobRepair, (job: JobRecord) => string> = {
  queued_without_driver: () => 'queued, its execution is not running',
  queued_past_timeout: (job) => `queued longer than its queue timeout (${job.limits.queueSeconds} s) + grace`,
  running_without_driver: () => 'running, its execution is not running',
  running_past_deadline: (job) => `running past its deadline ${job.deadline}`,
  lost_wakeup: (job) => `holds slot ${job.slot}, its execution still waits: the sweeper wakes it again`,
};

export type StragglerKind =
  // What healing.sweep() heals.
  | Repair
  // Driver checks that could not be made (no Step Functions access): the sweeper heals them if the execution is gone.
  | 'queued_driver_unverified'
  | 'running_driver_unverified'
  // What the sweeper does not heal (today): see `detail`.
  | 'queued_without_queue_entry'
  | 'orphan_queue_entry'
  | 'running_without_slot'
  | 'lost_admission'
  // Credits: a balance its ledger does not explain.
  | 'ledger_mismatch';

export interface Straggler {
  kind: StragglerKind;
  /** yes: the next sweep heals it; no: nothing heals it (before its deadline, or ever); maybe: depends on the unverified execution. */
  sweeper: 'yes' | 'no' | 'maybe';
  jobId?: string;
  userId?: string;
  tool?: string;
  status?: string;
  ageSeconds: number;
  detail: string;
}

export interface ToolSummary {
  byStatus: Partial<Record<JobStatus, number>>;
  total: number;
  oldestQueuedSeconds: number | null;
  oldestRunningSeconds: number | null;
}

export interface AuditReport {
  table: string;
  generatedAt: string;
  graceMs: number;
  capacity: number;
  executions: 'checked' | 'unverified';
  tools: Record<string, ToolSummary>;
  totals: Partial<Record<JobStatus, number>>;
  slotsHeld: number;
  queueLength: number;
  lockedUsers: number;
  /** Users whose balance was checked against the sum of their ledger, and their ledger entries. */
  ledger: { users: number; entries: number };
  /**
   * The provider key's tasks (accountStatus currentTaskCounts) against Ghostless's running jobs that hold a task or sent
   * a create (`ghostless`); `unaccounted` = the key's tasks beyond those; null when the provider was not asked.
   */
  provider: { currentTaskCounts: number; ghostless: number; unaccounted: number } | null;
  stragglers: Straggler[];
}

export interface AuditOptions {
  doc: DynamoDBDocumentClient;
  tableName: string;
  graceMs: number;
  capacity: number;
  /** Execution status of a job's driver; undefined = not available (driver checks are reported unverified). */
  executionStatus?: (jobId: string) => Promise<ExecutionStatus>;
  /** The tasks the provider key runs now, from every client (accountStatus); undefined = not checked. */
  providerTaskCount?: () => Promise<number>;
  now?: () => Date;
}

type Item = Record<string, unknown> & { pk: string; sk: string };

/** Reads the whole table once (jobs, users, queue, slots, intents) and diagnoses it. Read-only. */
export async function audit(options: AuditOptions): Promise<AuditReport> {
  const now = (options.now ?? (() => new Date()))();
  const { graceMs } = options;
  const items: Item[] = [];
  let ExclusiveStartKey: Record<string, unknown> | undefined;
  do {
    const page = await options.doc.send(new ScanCommand({ TableName: options.tableName, ConsistentRead: true, ExclusiveStartKey }));
    items.push(...((page.Items ?? []) as Item[]));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);

  const jobs = items.filter((i) => i.sk === 'JOB') as unknown as (JobRecord & Item)[];
  const users = items.filter((i) => i.sk === 'PROFILE') as (Item & { activeJobId?: string; balance?: number })[];
  const entries = items.filter((i) => i.sk.startsWith('LEDGER#')) as (Item & { delta: number })[];
  const queue = items.filter((i) => i.pk === 'QUEUE') as (Item & { jobId: string })[];
  const slots = items.filter((i) => i.pk === 'SLOT').map((i) => ({ slot: Number(i.sk), jobId: String(i.jobId) }));
  const intents = items.filter((i) => i.sk === 'INTENT') as (Item & {
    files?: Record<string, unknown>;
    stored?: Record<string, unknown>;
    userId?: string;
    tool?: string;
  })[];
  const byId = new Map(jobs.map((j) => [j.jobId, j]));

  const age = (iso: string | null | undefined) => (iso ? now.getTime() - Date.parse(iso) : 0);
  const seconds = (msValue: number) => Math.max(0, Math.round(msValue / 1000));

  // Summary per tool.
  const tools: Record<string, ToolSummary> = {};
  const totals: Partial<Record<JobStatus, number>> = {};
  for (const job of jobs) {
    tools[job.tool] ??= { byStatus: {}, total: 0, oldestQueuedSeconds: null, oldestRunningSeconds: null };
    const t = tools[job.tool] as ToolSummary;
    t.byStatus[job.status] = (t.byStatus[job.status] ?? 0) + 1;
    t.total++;
    totals[job.status] = (totals[job.status] ?? 0) + 1;
    if (job.status === 'queued') t.oldestQueuedSeconds = Math.max(t.oldestQueuedSeconds ?? 0, seconds(age(job.createdAt)));
    if (job.status === 'running') t.oldestRunningSeconds = Math.max(t.oldestRunningSeconds ?? 0, seconds(age(job.startedAt)));
  }

  const stragglers: Straggler[] = [];
  const add = (kind: StragglerKind, sweeper: Straggler['sweeper'], job: Partial<JobRecord> | undefined, ageMs: number, detail: string) =>
    stragglers.push({
      kind,
      sweeper,
      ...(job?.jobId ? { jobId: job.jobId } : {}),
      ...(job?.userId ? { userId: job.userId } : {}),
      ...(job?.tool ? { tool: job.tool } : {}),
      ...(job?.status ? { status: job.status } : {}),
      ageSeconds: seconds(ageMs),
      detail,
    });
  const status = async (jobId: string) => (options.executionStatus ? options.executionStatus(jobId) : undefined);

  // Live jobs: the sweeper's own rule (healing.diagnoseJob), plus the inconsistencies it has no rule for.
  const queuedIds = new Set(queue.map((q) => q.jobId));
  const slotOf = new Map(slots.map((s) => [s.jobId, s.slot]));
  for (const job of jobs.filter((j) => !isTerminal(j.status))) {
    if (job.status === 'queued' && !queuedIds.has(job.jobId) && age(job.createdAt) >= graceMs) {
      add(
        'queued_without_queue_entry',
        'no',
        job,
        age(job.createdAt),
        'queued but not in the queue: never granted; healed only at its queue timeout',
      );
    }
    if (job.status === 'running' && slotOf.get(job.jobId) !== job.slot) {
      add('running_without_slot', 'no', job, age(job.startedAt), `running in slot ${job.slot}, which it does not hold`);
    }
    const verdict = await diagnoseJob(job, now, graceMs, () => status(job.jobId));
    if (verdict === 'unverified') {
      const kind = job.status === 'queued' ? 'queued_driver_unverified' : 'running_driver_unverified';
      add(kind, 'maybe', job, age(job.createdAt), `${job.status} past the grace; execution status not available`);
    } else if (verdict) {
      add(verdict, 'yes', job, age(job.createdAt), REPAIR_DETAILS[verdict as JobRepair](job));
    }
  }

  // Slots and locks: the sweeper's leak rules. A scan reads its pages at different moments (a job can be granted or
  // finalized between the page with its slot or lock and the page with the job), so each suspect is read again,
  // holder and job in one transaction, before it is reported.
  const together = async (holderKey: { pk: string; sk: string }, jobId: string) => {
    const { Responses = [] } = await options.doc.send(
      new TransactGetCommand({
        TransactItems: [
          { Get: { TableName: options.tableName, Key: { pk: holderKey.pk, sk: holderKey.sk } } },
          { Get: { TableName: options.tableName, Key: jobKey(jobId) } },
        ],
      }),
    );
    return Responses.map((response) => response?.Item) as [Item | undefined, (JobRecord & Item) | undefined];
  };
  for (const { slot, jobId } of slots) {
    if (byId.get(jobId)?.status === 'running' && byId.get(jobId)?.slot === slot) continue;
    const [holder, job] = await together(slotKey(slot), jobId);
    if (holder?.jobId !== jobId || (job?.status === 'running' && job.slot === slot)) continue;
    add(
      'slot_leak',
      'yes',
      job ?? { jobId },
      job ? age(job.completedAt ?? job.createdAt) : 0,
      `slot ${slot} held by a job that is ${job?.status ?? 'missing'}`,
    );
  }
  for (const user of users.filter((u) => u.activeJobId)) {
    const seen = byId.get(user.activeJobId as string);
    if (seen && !isTerminal(seen.status)) continue;
    const [holder, job] = await together(user, user.activeJobId as string);
    if (holder?.activeJobId !== user.activeJobId || (job && !isTerminal(job.status))) continue;
    add(
      'lock_leak',
      'yes',
      job ?? { jobId: user.activeJobId, userId: user.pk.slice('USER#'.length) },
      job ? age(job.completedAt) : 0,
      `user ${user.pk.slice(5)} locked by a job that is ${job?.status ?? 'missing'}`,
    );
  }
  for (const entry of queue) {
    const job = byId.get(entry.jobId);
    if (job?.status !== 'queued')
      add('orphan_queue_entry', 'no', job ?? { jobId: entry.jobId }, 0, `queue entry of a job that is ${job?.status ?? 'missing'}`);
  }
  // A free slot while the queue's head has waited past the grace: the sweeper's grantNext hands it on.
  const held = new Set(slots.map((s) => s.slot));
  const free = Array.from({ length: options.capacity }, (_, i) => i + 1).filter((slot) => !held.has(slot)).length;
  const head = queue.map((q) => byId.get(q.jobId)).find((j) => j?.status === 'queued');
  if (free > 0 && head && age(head.createdAt) >= graceMs) {
    add('lost_wakeup', 'yes', head, age(head.createdAt), `${free} slot(s) free while the queue's head waits`);
  }
  // Uploads whose inputs are all stored but no job exists: the admission event was lost (nobody is charged or blocked).
  for (const intent of intents) {
    const jobId = intent.pk.slice('JOB#'.length);
    const wanted = Object.keys(intent.files ?? {});
    const stored = Object.keys(intent.stored ?? {});
    if (byId.has(jobId) || wanted.length === 0 || !wanted.every((slot) => stored.includes(slot))) continue;
    const closesAt = Date.parse(String((intent as { expiresAt?: string }).expiresAt ?? now.toISOString()));
    add(
      'lost_admission',
      'yes',
      { jobId, userId: intent.userId, tool: intent.tool as JobRecord['tool'] },
      0,
      `every input is stored but no job exists (upload window ${closesAt > now.getTime() ? 'still open' : 'closed'})`,
    );
  }

  // Credits: every balance is the sum of its ledger (grants − debits + refunds, each an entry).
  const ledgerSum = new Map<string, number>();
  for (const entry of entries) ledgerSum.set(entry.pk, (ledgerSum.get(entry.pk) ?? 0) + Number(entry.delta));
  for (const user of users) {
    const balance = Number(user.balance ?? 0);
    const sum = ledgerSum.get(user.pk) ?? 0;
    if (balance === sum) continue;
    const userId = user.pk.slice('USER#'.length);
    add('ledger_mismatch', 'no', { userId }, 0, `balance ${balance} but its ledger sums to ${sum}`);
  }

  // The provider key's tasks: each running job holds at most one (a create in flight may have started it).
  let provider: AuditReport['provider'] = null;
  if (options.providerTaskCount) {
    const currentTaskCounts = await options.providerTaskCount();
    const ghostless = jobs.filter((job) => job.status === 'running' && (job.providerTaskId || job.creatingAt)).length;
    provider = { currentTaskCounts, ghostless, unaccounted: Math.max(0, currentTaskCounts - ghostless) };
  }

  return {
    table: options.tableName,
    generatedAt: now.toISOString(),
    graceMs,
    capacity: options.capacity,
    executions: options.executionStatus ? 'checked' : 'unverified',
    tools,
    totals,
    slotsHeld: slots.length,
    queueLength: queue.length,
    lockedUsers: users.filter((u) => u.activeJobId).length,
    ledger: { users: users.length, entries: entries.length },
    provider,
    stragglers,
  };
}

const STATUSES: JobStatus[] = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];

/** The readable form: a table per tool, then the stragglers. */
export function renderAudit(report: AuditReport): string {
  const pad = (cells: string[], widths: number[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  const table = (header: string[], rows: string[][]) => {
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    return [
      pad(header, widths),
      pad(
        widths.map((w) => '-'.repeat(w)),
        widths,
      ),
      ...rows.map((r) => pad(r, widths)),
    ].join('\n');
  };
  const age = (s: number | null) =>
    s === null ? '-' : s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : `${Math.round(s / 3600)}h`;
  const toolRows = Object.entries(report.tools)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([tool, t]) => [
      tool,
      ...STATUSES.map((s) => String(t.byStatus[s] ?? 0)),
      String(t.total),
      age(t.oldestQueuedSeconds),
      age(t.oldestRunningSeconds),
    ]);
  toolRows.push([
    '(all)',
    ...STATUSES.map((s) => String(report.totals[s] ?? 0)),
    String(Object.values(report.totals).reduce((a, b) => a + (b ?? 0), 0)),
    '',
    '',
  ]);
  const lines = [
    `Ghostless audit of table ${report.table} at ${report.generatedAt} (grace ${report.graceMs} ms, ${report.capacity} slots, executions ${report.executions})`,
    '',
    table(['tool', ...STATUSES, 'total', 'oldest queued', 'oldest running'], toolRows),
    '',
    `slots held ${report.slotsHeld}/${report.capacity}, queue ${report.queueLength}, users holding the lock ${report.lockedUsers}`,
    `credits: ${report.ledger.users} balance(s) checked against ${report.ledger.entries} ledger entries`,
    providerLine(report.provider),
    '',
  ];
  if (report.stragglers.length === 0) lines.push('No stragglers.');
  else {
    lines.push(`${report.stragglers.length} straggler(s):`, '');
    lines.push(
      table(
        ['kind', 'sweeper heals', 'job', 'user', 'tool', 'status', 'age', 'detail'],
        report.stragglers.map((s) => [
          s.kind,
          s.sweeper,
          s.jobId ?? '-',
          s.userId ?? '-',
          s.tool ?? '-',
          s.status ?? '-',
          age(s.ageSeconds),
          s.detail,
        ]),
      ),
    );
  }
  return lines.join('\n');
}

function providerLine(provider: AuditReport['provider']) {
  if (!provider) return 'provider tasks: not checked (set RUNNINGHUB_API_KEY and RUNNINGHUB_BASE_URL)';
  const { currentTaskCounts, ghostless, unaccounted } = provider;
  const head = `provider tasks: the key runs ${currentTaskCounts}, Ghostless accounts for ${ghostless}`;
  return unaccounted === 0
    ? `${head}; none unaccounted for`
    : `${head}; ${unaccounted} unaccounted for (the key's other clients, or tasks Ghostless lost track of, billed until they end)`;
}

// ------------------------------------------------------------------------------------------------ CLI

interface Args {
  json: boolean;
  mode: 'aws' | 'local' | 'endpoint';
  dataDir: string;
  table: string | undefined;
  graceMs: number;
  capacity: number;
  stateMachineArn: string | undefined;
  stack: string;
  /** The provider key itself, or the secret holding it; undefined = found in the stack (aws) or not checked. */
  providerKey: { apiKey: string } | { secretId: string } | undefined;
  providerBaseUrl: string | undefined;
}

function parseArgs(argv: string[], env: NodeJS.ProcessEnv): Args {
  const flag = (name: string) => argv.includes(`--${name}`);
  const value = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  };
  const number = (text: string | undefined, fallback: number, name: string) => {
    if (text === undefined || text === '') return fallback;
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a whole number`);
    return n;
  };
  const hasAwsCredentials = Boolean(
    env.AWS_PROFILE ||
      env.AWS_ACCESS_KEY_ID ||
      env.AWS_WEB_IDENTITY_TOKEN_FILE ||
      env.AWS_CONTAINER_CREDENTIALS_FULL_URI ||
      env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI,
  );
  const mode = flag('aws')
    ? 'aws'
    : flag('local') || value('data-dir')
      ? 'local'
      : env.AWS_ENDPOINT_URL_DYNAMODB || value('endpoint')
        ? 'endpoint'
        : hasAwsCredentials
          ? 'aws'
          : 'local';
  return {
    json: flag('json'),
    mode,
    dataDir: resolve(value('data-dir') ?? env.DATA_DIR ?? '.local'),
    table: value('table') ?? env.TABLE_NAME,
    graceMs: number(value('grace-ms') ?? env.HEAL_GRACE_MS, 120_000, 'HEAL_GRACE_MS'),
    capacity: number(value('max-running') ?? env.MAX_RUNNING, 3, 'MAX_RUNNING'),
    stateMachineArn: value('state-machine-arn') ?? env.STATE_MACHINE_ARN,
    stack: value('stack') ?? 'Ghostless',
    providerKey: env.RUNNINGHUB_API_KEY
      ? { apiKey: env.RUNNINGHUB_API_KEY }
      : (value('provider-key-secret') ?? env.RUNNINGHUB_API_KEY_SECRET)
        ? { secretId: (value('provider-key-secret') ?? env.RUNNINGHUB_API_KEY_SECRET) as string }
        : undefined,
    providerBaseUrl: env.RUNNINGHUB_BASE_URL || undefined,
  };
}

/** The port of a DynamoDB Local already serving `<dataDir>/dynamodb` (the running local stack's), from /proc. */
function runningDynamoDbLocal(dataDir: string): number | undefined {
  const dbPath = join(dataDir, 'dynamodb');
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined; // not Linux: start our own
  }
  for (const pid of entries) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!argv.some((a) => a.endsWith('DynamoDBLocal.jar'))) continue;
      if (argv[argv.indexOf('-dbPath') + 1] !== dbPath) continue;
      const port = Number(argv[argv.indexOf('-port') + 1]);
      if (port) return port;
    } catch {}
  }
  return undefined;
}

async function main() {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const args = parseArgs(process.argv.slice(2), process.env);
  let stopLocal: (() => Promise<void>) | undefined;
  let endpoint: string | undefined;
  let credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  let region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;

  if (args.mode === 'local') {
    const { S3RVER_CREDENTIALS } = await import('../local/emulators/s3');
    credentials = S3RVER_CREDENTIALS;
    region = 'us-east-1';
    const port = runningDynamoDbLocal(args.dataDir);
    if (port) endpoint = `http://127.0.0.1:${port}`;
    else if (!existsSync(join(args.dataDir, 'dynamodb'))) {
      throw new Error(`No local stack data in ${args.dataDir} (set DATA_DIR or --data-dir; --aws for an AWS account)`);
    } else {
      const { startDynamoDbLocal } = await import('../local/emulators/dynamodb');
      const local = await startDynamoDbLocal({ dataDir: join(args.dataDir, 'dynamodb') });
      endpoint = local.endpoint;
      stopLocal = local.stop;
    }
  } else if (args.mode === 'endpoint') {
    endpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB;
    region ??= 'us-east-1';
    if (!process.env.AWS_ACCESS_KEY_ID) credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  }

  // With --aws, what the flags do not give is read from the deployed stack.
  const stack =
    args.mode === 'aws'
      ? await deployedStack(args.stack).catch((error) => {
          if (args.table) return undefined;
          throw new Error(`${error instanceof Error ? error.message : error} (or pass --table NAME)`);
        })
      : undefined;
  const table = args.table ?? stack?.output('TableName') ?? 'ghostless-jobs';
  const stateMachineArn = args.stateMachineArn ?? stack?.output('StateMachineArn');
  const keySecret = stack?.output('ProviderApiKeySecret');
  const providerKey = args.providerKey ?? (keySecret ? { secretId: keySecret } : undefined);
  const providerBaseUrl = args.providerBaseUrl ?? stack?.parameter('RunningHubBaseUrl') ?? 'https://www.runninghub.ai';
  const clientConfig = { ...(region ? { region } : {}), ...(credentials ? { credentials } : {}) };

  const dynamo = new DynamoDBClient({ ...(endpoint ? { endpoint } : {}), ...clientConfig });
  const doc = DynamoDBDocumentClient.from(dynamo);
  let sfn: SFNClient | undefined;
  try {
    // Execution status: AWS, or an explicit Step Functions endpoint. A local stack's executions live in its own process.
    let executionStatus: AuditOptions['executionStatus'];
    if (stateMachineArn && (args.mode === 'aws' || process.env.AWS_ENDPOINT_URL_SFN)) {
      sfn = new SFNClient(clientConfig);
      const workflow = new SfnWorkflow(
        sfn,
        stateMachineArn,
        () => ({}),
        () => {},
      );
      executionStatus = (jobId) => workflow.status(jobId);
    }
    const providerTaskCount = providerKey
      ? async () => accountTaskCount(providerBaseUrl, await providerApiKey(providerKey, clientConfig))
      : undefined;
    const report = await audit({
      doc,
      tableName: table,
      graceMs: args.graceMs,
      capacity: args.capacity,
      executionStatus,
      providerTaskCount,
    });
    console.log(args.json ? JSON.stringify(report, null, 2) : renderAudit(report));
    process.exitCode = report.stragglers.some((s) => s.sweeper === 'no') ? 2 : 0;
  } finally {
    dynamo.destroy();
    sfn?.destroy();
    await stopLocal?.();
  }
}

/** The provider key as given, or read from its secret with the caller's credentials (never printed). */
async function providerApiKey(key: NonNullable<Args['providerKey']>, config: SecretsManagerClientConfig): Promise<string> {
  if ('apiKey' in key) return key.apiKey;
  const client = new SecretsManagerClient(config);
  try {
    return await secretString(client, key.secretId)();
  } finally {
    client.destroy();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
