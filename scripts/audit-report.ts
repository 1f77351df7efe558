/** What `npm run audit` finds: one read of the whole table, diagnosed with the sweeper's own rules. Read-only. */
import { type DynamoDBDocumentClient, ScanCommand, TransactGetCommand } from '@aws-sdk/lib-dynamodb';
import { jobKey, slotKey } from '../lambdas/adapters/dynamo/keys';
import { diagnoseJob, type Repair } from '../lambdas/domain/healing';
import { isTerminal, type JobRecord, type JobStatus } from '../lambdas/domain/jobs';
import type { ExecutionStatus } from '../lambdas/domain/ports';

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
