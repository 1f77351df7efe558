/**
 * In-memory implementations of the domain's ports (lambdas/domain/ports.ts), for the domain unit suite.
 *
 * `MemoryStore` follows the DynamoDB adapter (lambdas/adapters/dynamo/) write by write: each method
 * checks the same conditions its transaction or conditional write carries, answers false (or the same
 * AdmitResult) exactly where DynamoDB would cancel it, and otherwise applies every item of the transaction.
 * It keys the queue as the adapter does (`createdAt#jobId`, string order) and reads return copies, as a
 * table does. What a single process cannot produce (TransactionConflict, a balance that moved between the
 * read and the write) is not modelled: here conditions only ever fail for what the data says.
 */
import type { UserItem } from '../../lambdas/adapters/dynamo/credit-ledger';
import { InvalidRequest, ProviderFailed } from '../../lambdas/domain/errors';
import { isJobId, type JobRecord, type StoredInput, type UploadIntent } from '../../lambdas/domain/jobs';
import type {
  Account,
  AdmitResult,
  Clock,
  CreditLedger,
  ExecutionStatus,
  FileStore,
  FinalChange,
  JobStore,
  LedgerEntry,
  LedgerReason,
  LiveStore,
  Provider,
  ProviderInput,
  ProviderOutcome,
  ProviderTaskRequest,
  QueueStore,
  Workflow,
} from '../../lambdas/domain/ports';

const copy = <T>(value: T): T => structuredClone(value);
/** The adapter's queue sort key: admission time, then job id. */
const queueKey = (job: Pick<JobRecord, 'createdAt' | 'jobId'>) => `${job.createdAt}#${job.jobId}`;
const byKey = <T>(entries: Iterable<[string, T]>) => [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

interface IntentItem {
  intent: UploadIntent;
  stored: Record<string, StoredInput>;
  /** When DynamoDB's TTL may delete it (epoch seconds). */
  ttl: number;
  /** In the `live` index (partition INTENT): no job yet. */
  pending: boolean;
}

interface JobItem {
  job: JobRecord;
  /** In the `live` index (partition JOB): put non-terminal, taken out by finalize. */
  live: boolean;
}

export class MemoryStore implements JobStore, QueueStore, LiveStore, CreditLedger {
  readonly intents = new Map<string, IntentItem>();
  readonly jobs = new Map<string, JobItem>();
  readonly users = new Map<string, UserItem>();
  readonly ledgers = new Map<string, LedgerEntry[]>();
  /** Queue entries: sort key → job id. */
  readonly queue = new Map<string, string>();
  /** Held slots: slot number → job id. */
  readonly slots = new Map<number, string>();
  capacity: { limit: number; until: string } | null = null;

  /** `now` stamps grants, as the adapter stamps them with the Lambda's own clock. */
  constructor(private readonly now: () => Date = () => new Date()) {}

  // JobStore

  async putIntent(intent: UploadIntent, expiresAtEpoch: number) {
    this.intents.set(intent.jobId, { intent: copy(intent), stored: {}, ttl: expiresAtEpoch, pending: true });
  }

  async getIntent(jobId: string) {
    const item = this.intents.get(jobId);
    return item ? copy(item.intent) : null;
  }

  async markInputStored(jobId: string, input: StoredInput) {
    const item = this.intents.get(jobId);
    // SET stored.#slot on a missing item: DynamoDB refuses the document path.
    if (!item) throw new Error('ValidationException: The document path provided in the update expression is invalid for update');
    item.stored[input.slot] = copy(input);
    return copy(Object.values(item.stored));
  }

  async admit(job: JobRecord): Promise<AdmitResult> {
    const user = this.users.get(job.userId);
    if (this.jobs.has(job.jobId)) return { outcome: 'duplicate' };
    const userOk = user !== undefined && user.activeJobId === undefined && user.balance >= job.creditCost;
    if (!userOk) {
      if (user?.activeJobId) return { outcome: 'rejected', code: 'USER_BUSY' };
      return { outcome: 'rejected', code: 'INSUFFICIENT_CREDITS' };
    }
    const seq = (user.ledgerSeq ?? 0) + 1;
    this.jobs.set(job.jobId, { job: copy(job), live: !terminal(job) });
    user.activeJobId = job.jobId;
    user.balance -= job.creditCost;
    user.debited += job.creditCost;
    user.ledgerSeq = seq;
    this.queue.set(queueKey(job), job.jobId);
    this.entries(job.userId).push({ at: job.createdAt, delta: -job.creditCost, balance: user.balance, reason: 'debit', jobId: job.jobId });
    this.settle(job.jobId);
    return { outcome: 'admitted' };
  }

  async putRejected(job: JobRecord) {
    if (this.jobs.has(job.jobId)) return false;
    this.jobs.set(job.jobId, { job: copy(job), live: !terminal(job) });
    this.settle(job.jobId);
    return true;
  }

  async getJob(jobId: string) {
    if (!isJobId(jobId)) throw new InvalidRequest('The job id is not one this API issued.');
    const item = this.jobs.get(jobId);
    return item ? copy(item.job) : null;
  }

  async listJobs(userId: string, limit: number, cursor?: string) {
    const mine = byKey([...this.jobs.values()].filter(({ job }) => job.userId === userId).map(({ job }) => [queueKey(job), job] as const))
      .map(([, job]) => job)
      .reverse();
    const start = cursor === undefined ? 0 : mine.findIndex((job) => cursorOf(job) === cursor) + 1;
    if (start === 0 && cursor !== undefined) throw new InvalidRequest('cursor is not one this API returned.');
    const page = mine.slice(start, start + limit);
    const last = page.at(-1);
    // DynamoDB answers a LastEvaluatedKey whenever the page is full, even if nothing follows.
    return { jobs: copy(page), nextCursor: page.length === limit && last ? cursorOf(last) : null };
  }

  /** The adapter reads this from its position index; here the queue itself is counted. Null when not waiting. */
  async queuePosition(job: JobRecord) {
    const mine = queueKey(job);
    if (!this.queue.has(mine)) return null;
    return [...this.queue.keys()].filter((key) => key <= mine).length;
  }

  // QueueStore

  async freeSlots(capacity: number) {
    return Array.from({ length: capacity }, (_, i) => i + 1).filter((slot) => !this.slots.has(slot));
  }

  async queueHeads(limit: number) {
    return byKey(this.queue.entries())
      .slice(0, limit)
      .map(([, jobId]) => jobId);
  }

  async grant(job: JobRecord, slot: number, startedAt: string, deadline: string) {
    const stored = this.jobs.get(job.jobId)?.job;
    if (this.slots.has(slot) || stored?.status !== 'queued') return false;
    this.slots.set(slot, job.jobId);
    Object.assign(stored, { status: 'running', startedAt, slot, deadline });
    this.queue.delete(queueKey(job));
    return true;
  }

  async recordToken(jobId: string, status: 'queued' | 'running', token: string, extra: Record<string, unknown> = {}) {
    const stored = this.jobs.get(jobId)?.job;
    if (stored?.status !== status) return false;
    Object.assign(stored, { [status === 'queued' ? 'waitToken' : 'runToken']: token }, copy(extra));
    return true;
  }

  async requestStaging(jobId: string, token: string, at: string) {
    const stored = this.jobs.get(jobId)?.job;
    if (stored?.status !== 'queued' || stored.waitToken !== token || stored.providerFiles || stored.stageRequestedAt) return false;
    stored.stageRequestedAt = at;
    return true;
  }

  async recordStagedInputs(jobId: string, files: Record<string, string>) {
    const stored = this.jobs.get(jobId)?.job;
    if ((stored?.status !== 'queued' && stored?.status !== 'running') || stored.providerFiles) return false;
    stored.providerFiles = copy(files);
    return true;
  }

  async noteTaskCancelled(jobId: string, at: string) {
    const stored = this.jobs.get(jobId)?.job;
    if (stored?.status !== 'running') return false;
    stored.providerCancelledAt = at;
    return true;
  }

  async adoptTask(jobId: string, taskId: string) {
    const stored = this.jobs.get(jobId)?.job;
    if (stored?.status !== 'running' || stored.providerTaskId !== undefined) return false;
    stored.providerTaskId = taskId;
    delete stored.creatingAt;
    return true;
  }

  async finalize(job: JobRecord, change: FinalChange) {
    const refund = change.refund && job.charged && !job.refunded ? job.creditCost : 0;
    const stored = this.jobs.get(job.jobId);
    const user = this.users.get(job.userId);
    // The job as it was read; the lock absent or this job's; the slot absent or this job's.
    const jobOk = stored?.job.status === job.status;
    const lockOk = user?.activeJobId === undefined || user.activeJobId === job.jobId;
    const slotHolder = job.status === 'running' && job.slot !== undefined ? this.slots.get(job.slot) : undefined;
    const slotOk = slotHolder === undefined || slotHolder === job.jobId;
    if (!stored || !jobOk || !lockOk || !slotOk) return false;
    // `balance = balance + :refund` on a user without a balance: DynamoDB refuses the expression.
    if (refund > 0 && !user) throw new Error('ValidationException: The provided expression refers to an attribute that does not exist');

    Object.assign(stored.job, {
      status: change.status,
      error: copy(change.error),
      outputs: copy(change.outputs),
      completedAt: change.completedAt,
      refunded: job.refunded || refund > 0,
    });
    delete stored.job.waitToken;
    delete stored.job.runToken;
    stored.live = false;
    if (user) {
      delete user.activeJobId;
      if (refund > 0) {
        user.balance += refund;
        user.refunded += refund;
        user.ledgerSeq = (user.ledgerSeq ?? 0) + 1;
        this.entries(job.userId).push({ at: change.completedAt, delta: refund, balance: user.balance, reason: 'refund', jobId: job.jobId });
      }
    }
    if (job.status === 'queued') this.queue.delete(queueKey(job));
    if (job.status === 'running' && job.slot !== undefined) this.slots.delete(job.slot);
    return true;
  }

  async counts() {
    return { running: this.slots.size, queued: this.queue.size };
  }

  /** The in-memory queue keeps no position counters, so there is never anything to prune. */
  async pruneQueueCounters(_now: Date) {
    return 0;
  }

  async requeue(job: JobRecord) {
    if (job.status !== 'running' || job.slot === undefined) return false;
    const stored = this.jobs.get(job.jobId)?.job;
    const jobOk = stored?.status === 'running' && stored.slot === job.slot && stored.providerTaskId === undefined;
    if (!stored || !jobOk || this.slots.get(job.slot) !== job.jobId) return false;
    stored.status = 'queued';
    for (const field of ['startedAt', 'slot', 'deadline', 'waitToken', 'runToken', 'creatingAt', 'callbackSecretHash'] as const) {
      delete stored[field];
    }
    this.slots.delete(job.slot);
    this.queue.set(queueKey(job), job.jobId);
    return true;
  }

  async providerCapacity() {
    return this.capacity ? { ...this.capacity } : null;
  }

  async noteProviderCapacity(limit: number, until: string) {
    this.capacity = { limit, until };
  }

  // LiveStore

  async liveJobs() {
    return copy(
      byKey([...this.jobs.values()].filter((item) => item.live).map(({ job }) => [queueKey(job), job] as const)).map(([, job]) => job),
    );
  }

  async heldLocks() {
    return [...this.users.entries()].flatMap(([userId, user]) => (user.activeJobId ? [{ userId, jobId: user.activeJobId }] : []));
  }

  async heldSlots() {
    return [...this.slots.entries()].sort(([a], [b]) => a - b).map(([slot, jobId]) => ({ slot, jobId }));
  }

  async releaseSlot(slot: number, jobId: string) {
    if (this.slots.get(slot) !== jobId) return false;
    const job = this.jobs.get(jobId)?.job;
    if (job?.status === 'running' && job.slot === slot) return false;
    this.slots.delete(slot);
    return true;
  }

  async releaseLock(userId: string, jobId: string) {
    const user = this.users.get(userId);
    if (!user || user.activeJobId !== jobId) return false;
    delete user.activeJobId;
    return true;
  }

  async pendingIntents() {
    return byKey(
      [...this.intents.values()]
        .filter((item) => item.pending)
        .map((item) => [`${item.intent.expiresAt}#${item.intent.jobId}`, item] as const),
    ).map(([, item]) => ({ intent: copy(item.intent), storedSlots: Object.keys(item.stored) }));
  }

  async settleIntent(jobId: string) {
    if (!this.intents.has(jobId)) return false;
    this.settle(jobId);
    return true;
  }

  // CreditLedger

  async balance(userId: string) {
    return this.users.get(userId)?.balance ?? 0;
  }

  async account(userId: string): Promise<Account | null> {
    const user = this.users.get(userId);
    return user ? { balance: user.balance, signedUp: user.signedUp === true } : null;
  }

  async activeJobId(userId: string) {
    return this.users.get(userId)?.activeJobId ?? null;
  }

  async grantCredits(userId: string, amount: number, reason: LedgerReason, options: { note?: string; signup?: boolean } = {}) {
    return this.changeBalance(userId, reason, options.note, (balance) => balance + amount, options.signup ?? false) !== null;
  }

  async setBalance(userId: string, balance: number) {
    this.changeBalance(userId, 'adjustment', undefined, () => balance, true);
    return balance;
  }

  async ledger(userId: string, limit: number, cursor?: string) {
    const all = [...this.entries(userId)].reverse();
    let start = 0;
    if (cursor !== undefined) {
      const seq = /^LEDGER#(\d{12})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'))?.[1];
      if (!seq) throw new InvalidRequest('cursor is not one this API returned.');
      start = all.length - Number(seq) + 1;
    }
    const page = all.slice(start, start + limit);
    const lastSeq = all.length - (start + page.length) + 1;
    const nextCursor =
      page.length === limit && page.length > 0 ? Buffer.from(`LEDGER#${String(lastSeq).padStart(12, '0')}`).toString('base64url') : null;
    return { entries: copy(page), nextCursor };
  }

  /** Test helper: a user with `balance` credits who has had the sign-up grant (one `adjustment` entry, as the local knob books it). */
  async seedUser(userId: string, balance: number) {
    await this.setBalance(userId, balance);
  }

  private changeBalance(userId: string, reason: LedgerReason, note: string | undefined, next: (b: number) => number, signup: boolean) {
    const user = this.users.get(userId);
    if (signup && reason === 'signup' && user?.signedUp) return null;
    const before = user?.balance ?? 0;
    const balance = next(before);
    if (!Number.isSafeInteger(balance) || balance < 0) throw new InvalidRequest('A balance is a whole number and never negative.');
    const delta = balance - before;
    const item: UserItem = user ?? { balance: 0, granted: 0, debited: 0, refunded: 0 };
    Object.assign(item, { balance, granted: item.granted + delta, ledgerSeq: (item.ledgerSeq ?? 0) + 1 });
    if (signup) item.signedUp = true;
    this.users.set(userId, item);
    this.entries(userId).push({ at: this.now().toISOString(), delta, balance, reason, ...(note ? { note } : {}) });
    return balance;
  }

  private entries(userId: string) {
    let list = this.ledgers.get(userId);
    if (!list) {
      list = [];
      this.ledgers.set(userId, list);
    }
    return list;
  }

  private settle(jobId: string) {
    // The adapter's `REMOVE livePk, liveSk` on the intent (an update without condition).
    const item = this.intents.get(jobId);
    if (item) item.pending = false;
  }
}

const terminal = (job: JobRecord) => job.status !== 'queued' && job.status !== 'running';
const cursorOf = (job: JobRecord) => Buffer.from(queueKey(job)).toString('base64url');

/** A clock the test moves by hand. */
export class ManualClock implements Clock {
  private current: number;
  constructor(start = '2026-01-01T00:00:00.000Z') {
    this.current = Date.parse(start);
  }
  now() {
    return new Date(this.current);
  }
  advance(ms: number) {
    this.current += ms;
  }
}

/**
 * Step Functions as the domain sees it: executions named after their job, task tokens resumed or failed.
 * Calls on a finished execution or a used token are tolerated, as the adapter tolerates "already gone".
 */
export class MemoryWorkflow implements Workflow {
  readonly executions = new Map<string, ExecutionStatus>();
  readonly started: string[] = [];
  readonly resumed: { token: string; output: unknown }[] = [];
  readonly failed: { token: string; error: string; cause: string }[] = [];
  readonly stopped: { jobId: string; cause: string }[] = [];

  async start(jobId: string) {
    this.started.push(jobId);
    if (!this.executions.has(jobId)) this.executions.set(jobId, 'RUNNING');
  }
  async resume(token: string, output: unknown) {
    this.resumed.push({ token, output: copy(output) });
  }
  async fail(token: string, error: string, cause: string) {
    this.failed.push({ token, error, cause });
  }
  async stop(jobId: string, cause: string) {
    this.stopped.push({ jobId, cause });
    if (this.executions.get(jobId) === 'RUNNING') this.executions.set(jobId, 'ABORTED');
  }
  async status(jobId: string) {
    return this.executions.get(jobId) ?? 'MISSING';
  }
}

interface MemoryTask {
  request: ProviderTaskRequest;
  outcome: ProviderOutcome;
  cancelled: boolean;
}

/** RunningHub as the domain sees it: tasks with digit ids that run until the test ends them. */
export class MemoryProvider implements Provider {
  readonly tasks = new Map<string, MemoryTask>();
  readonly staged: ProviderInput[][] = [];
  readonly cancelled: string[] = [];
  /** Errors the next creates throw, in order (ProviderBusy, ProviderUnavailable, ProviderFailed…). */
  readonly createErrors: Error[] = [];
  /** Errors the next stagings throw, in order. */
  readonly stageErrors: Error[] = [];
  /** Inputs that go as their URLs (too big to upload), not as uploaded fileNames: all of them, or these slots. */
  byUrl: boolean | readonly string[] = false;
  private nextId = 1950000000000000001n;

  async stageInputs(inputs: ProviderInput[]) {
    const error = this.stageErrors.shift();
    if (error) throw error;
    this.staged.push(copy(inputs));
    const byUrl = (slot: string) => (Array.isArray(this.byUrl) ? this.byUrl.includes(slot) : this.byUrl === true);
    return Object.fromEntries(
      inputs.map((input) => [input.slot, byUrl(input.slot) ? input.url : `api/${this.staged.length}-${input.slot}`]),
    );
  }

  async createTask(request: ProviderTaskRequest) {
    const error = this.createErrors.shift();
    if (error) throw error;
    const taskId = String(this.nextId++);
    this.tasks.set(taskId, { request: copy(request), outcome: { status: 'running' }, cancelled: false });
    return { taskId };
  }

  async outputs(taskId: string) {
    const task = this.tasks.get(taskId);
    if (!task) throw new ProviderFailed(`Task ${taskId} is unknown to the provider.`);
    return copy(task.outcome);
  }

  async cancel(taskId: string) {
    this.cancelled.push(taskId);
    const task = this.tasks.get(taskId);
    if (task?.outcome.status !== 'running') return;
    task.cancelled = true;
    task.outcome = { status: 'failed', reason: 'Task cancelled.' };
  }

  /** Test helper: ends a task. */
  finish(taskId: string, outcome: Exclude<ProviderOutcome, { status: 'running' }>) {
    const task = this.tasks.get(taskId);
    if (!task) throw new Error(`no task ${taskId}`);
    task.outcome = outcome;
  }
}

interface MemoryObject {
  bytes: Uint8Array;
  storedAt: Date;
}

/** S3 as the domain sees it. `remote` holds the files the provider serves, for `collect`. */
export class MemoryFiles implements FileStore {
  readonly objects = new Map<string, MemoryObject>();
  readonly remote = new Map<string, { contentType: string; bytes: number }>();

  constructor(private readonly clock: Clock) {}

  put(key: string, bytes: Uint8Array, storedAt = this.clock.now()) {
    this.objects.set(key, { bytes, storedAt });
  }

  async collect(url: string, key: string, rule: { types: readonly string[]; maxBytes: number }) {
    const file = this.remote.get(url);
    if (!file) throw new ProviderFailed(`The provider's output ${url} could not be fetched.`);
    if (!rule.types.includes(file.contentType)) throw new ProviderFailed(`The provider returned ${file.contentType}.`);
    if (file.bytes > rule.maxBytes) throw new ProviderFailed('The provider returned a file over the limit.');
    this.put(key, new Uint8Array(0));
    return { ...file };
  }

  async presignUpload(key: string, contentType: string, size: number, expiresInSeconds: number) {
    return { url: 'memory://bucket', fields: { key, 'Content-Type': contentType, size: String(size), expires: String(expiresInSeconds) } };
  }

  async inspect(key: string, headBytes: number) {
    const object = this.objects.get(key);
    return object ? { bytes: object.bytes.length, head: object.bytes.slice(0, headBytes) } : null;
  }

  async storedAt(key: string) {
    return this.objects.get(key)?.storedAt ?? null;
  }

  async readRange(key: string, start: number, end: number) {
    const object = this.objects.get(key);
    if (!object) throw new Error(`NoSuchKey: ${key}`);
    return object.bytes.slice(start, end + 1);
  }

  async copy(from: string, to: string) {
    const object = this.objects.get(from);
    if (!object) return false;
    this.objects.set(to, { bytes: object.bytes.slice(), storedAt: this.clock.now() });
    return true;
  }

  async presignDownload(key: string) {
    return `memory://bucket/${key}`;
  }
}
