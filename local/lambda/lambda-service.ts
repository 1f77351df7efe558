import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { onArmedChange } from '../../lambdas/domain/faults';
import { type Outcome, Sandbox } from './sandbox-thread';

/** A function as the template declares it, its references resolved to the local resources. */
export interface FunctionSpec {
  logicalId: string;
  name: string;
  arn: string;
  /** The asset directory CDK would zip and upload. */
  codeDir: string;
  /** e.g. `index.handler`. */
  handler: string;
  timeoutSeconds: number;
  memorySize: number;
  /** Exactly the template's environment, resolved; the runtime's own variables are added at start. */
  environment: Record<string, string>;
  reservedConcurrency?: number;
  /** EventInvokeConfig: retries of async invocations and where a failed event goes. */
  async: { maximumRetryAttempts: number; maximumEventAgeSeconds: number; onFailure?: string };
}

/** What Lambda reports for a failed invocation: errorType is the Error Step Functions matches on. */
class FunctionError extends Error {
  constructor(
    readonly errorType: string,
    message: string,
    readonly trace: string[] = [],
  ) {
    super(message);
    this.name = errorType;
  }
}

/** The invoke API's own refusals (not the function's errors). */
export class LambdaServiceError extends Error {
  constructor(name: 'ResourceNotFoundException' | 'TooManyRequestsException', message: string) {
    super(message);
    this.name = name;
  }
}

export interface AsyncFailure {
  functionName: string;
  event: unknown;
  error: { errorType: string; errorMessage: string };
  attempts: number;
  destination?: string;
}

export interface LambdaServiceOptions {
  functions: FunctionSpec[];
  /** Variables Lambda itself sets (credentials, region) and the local endpoints, per function. */
  runtimeEnvironment(spec: FunctionSpec): Record<string, string>;
  /** Where each function's log (its CloudWatch log group) is written. */
  logDir: string;
  /** Sandboxes per function when the template reserves none (AWS scales further; a laptop does not). */
  defaultConcurrency?: number;
  /** Pauses between async retries; AWS waits about 1 and 2 minutes. */
  asyncRetryDelaysMs?: number[];
  /** An async event that exhausted its retries, with the ARN of its on-failure destination if any. */
  onAsyncFailure?(failure: AsyncFailure): void | Promise<void>;
}

/**
 * The local Lambda service: each function runs its bundled code from the cloud assembly in its own worker
 * threads (one sandbox per concurrent invocation, kept warm, heap capped at the memory size), with its
 * template environment, its handler string and its timeout; async invocations get Lambda's retries.
 */
export class LambdaService {
  private readonly pools = new Map<string, FunctionPool>();
  private readonly byArn = new Map<string, FunctionPool>();
  private readonly pendingAsync = new Set<Promise<void>>();
  private closed = false;
  private readonly stopFaults: () => void;
  readonly asyncFailures: AsyncFailure[] = [];

  constructor(private readonly options: LambdaServiceOptions) {
    mkdirSync(options.logDir, { recursive: true });
    for (const spec of options.functions) {
      const pool = new FunctionPool(spec, options);
      this.pools.set(spec.name, pool);
      this.byArn.set(spec.arn, pool);
    }
    this.stopFaults = onArmedChange((points) => {
      for (const pool of this.pools.values()) pool.armFaults(points);
    });
  }

  get functions(): FunctionSpec[] {
    return [...this.pools.values()].map((pool) => pool.spec);
  }

  /** By name, ARN or logical id. */
  spec(nameOrArn: string): FunctionSpec {
    return this.pool(nameOrArn).spec;
  }

  /** A synchronous (RequestResponse) invocation: the function's result, or its error as a FunctionError. */
  async invoke(nameOrArn: string, event: unknown): Promise<unknown> {
    const outcome = await this.pool(nameOrArn).run(event);
    if (outcome.ok) return JSON.parse(outcome.payload);
    throw new FunctionError(outcome.error.errorType, outcome.error.errorMessage, outcome.error.trace);
  }

  /** An asynchronous (Event) invocation: accepted at once, retried on error, then sent to the on-failure destination. */
  invokeAsync(nameOrArn: string, event: unknown): void {
    const pool = this.pool(nameOrArn);
    const delays = this.options.asyncRetryDelaysMs ?? [200, 1000];
    const { maximumRetryAttempts, maximumEventAgeSeconds, onFailure } = pool.spec.async;
    const accepted = Date.now();
    const run = (async () => {
      let error: { errorType: string; errorMessage: string } | undefined;
      let attempts = 0;
      for (let attempt = 0; attempt <= maximumRetryAttempts && !this.closed; attempt++) {
        if (attempt > 0) {
          await new Promise((r) => setTimeout(r, delays[Math.min(attempt - 1, delays.length - 1)]));
          if (Date.now() - accepted > maximumEventAgeSeconds * 1000 || this.closed) break;
        }
        attempts++;
        const outcome = await pool.run(event).catch((thrown: Error) => ({
          ok: false as const,
          error: { errorType: thrown.name, errorMessage: thrown.message },
        }));
        if (outcome.ok) return;
        error = outcome.error;
      }
      if (!error || this.closed) return;
      const failure: AsyncFailure = { functionName: pool.spec.name, event, error, attempts, destination: onFailure };
      this.asyncFailures.push(failure);
      console.error(
        `[${pool.spec.logicalId}] async event failed ${attempts} time(s) (${error.errorType}: ${error.errorMessage})` +
          (onFailure ? `; sent to ${onFailure}` : '; dropped (no on-failure destination)'),
      );
      await this.options.onAsyncFailure?.(failure);
    })();
    this.pendingAsync.add(run);
    void run.finally(() => this.pendingAsync.delete(run));
  }

  /** Starts one sandbox per function ahead of the first invocation; resolves when their init has run. */
  warm(nameOrArns: string[]): Promise<void> {
    return Promise.all(nameOrArns.map((name) => this.pool(name).warm())).then(() => undefined);
  }

  /** Waits for the async invocations in flight. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.pendingAsync]);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopFaults();
    await Promise.allSettled([...this.pools.values()].map((pool) => pool.close()));
  }

  private pool(nameOrArn: string): FunctionPool {
    const pool =
      this.pools.get(nameOrArn) ??
      this.byArn.get(nameOrArn) ??
      [...this.pools.values()].find((p) => p.spec.logicalId === nameOrArn || nameOrArn.endsWith(`:function:${p.spec.name}`));
    if (!pool) throw new LambdaServiceError('ResourceNotFoundException', `Function not found: ${nameOrArn}`);
    return pool;
  }
}

/** The sandboxes of one function. */
class FunctionPool {
  private readonly idle: Sandbox[] = [];
  private readonly all = new Set<Sandbox>();
  private readonly waiting: (() => void)[] = [];
  private armed: string[] = [];
  private readonly log: WriteStream;
  private readonly limit: number;

  constructor(
    readonly spec: FunctionSpec,
    private readonly options: LambdaServiceOptions,
  ) {
    this.log = createWriteStream(join(options.logDir, `${spec.name}.log`), { flags: 'a' });
    this.limit = spec.reservedConcurrency ?? options.defaultConcurrency ?? 8;
  }

  armFaults(points: string[]) {
    this.armed = points;
    for (const sandbox of this.all) sandbox.post({ type: 'faults', points });
  }

  async warm() {
    if (this.all.size > 0) return;
    const sandbox = this.spawn();
    this.idle.push(sandbox);
    await sandbox.initialized;
  }

  private spawn(): Sandbox {
    const sandbox = new Sandbox(
      this.spec,
      { ...this.options.runtimeEnvironment(this.spec), ...this.spec.environment },
      this.armed,
      this.log,
    );
    this.all.add(sandbox);
    return sandbox;
  }

  async run(event: unknown): Promise<Outcome> {
    const sandbox = await this.acquire();
    try {
      return await sandbox.invoke(event);
    } finally {
      this.release(sandbox);
    }
  }

  private async acquire(): Promise<Sandbox> {
    for (;;) {
      const warm = this.idle.pop();
      if (warm?.alive) return warm;
      if (warm) {
        // Stopped while idle (over its memory size): gone, as Lambda replaces it.
        this.all.delete(warm);
        continue;
      }
      if (this.all.size < this.limit) return this.spawn();
      // Reserved concurrency is a hard limit in AWS: the caller is throttled.
      if (this.spec.reservedConcurrency !== undefined) {
        throw new LambdaServiceError(
          'TooManyRequestsException',
          `Rate Exceeded. (reserved concurrency ${this.limit} of ${this.spec.name})`,
        );
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
  }

  private release(sandbox: Sandbox) {
    if (sandbox.alive) this.idle.push(sandbox);
    else this.all.delete(sandbox);
    this.waiting.shift()?.();
  }

  async close() {
    await Promise.allSettled([...this.all].map((sandbox) => sandbox.terminate()));
    this.all.clear();
    this.idle.length = 0;
    await new Promise<void>((resolve) => this.log.end(resolve));
  }
}
