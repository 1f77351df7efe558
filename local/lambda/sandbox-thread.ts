import { randomBytes, randomUUID } from 'node:crypto';
import type { WriteStream } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { checkpoint, type FaultPoint } from '../../lambdas/domain/faults';
import type { FunctionSpec } from './lambda-service';

/** What an invocation came to: the handler's serialized result, or the error Lambda reports. */
export type Outcome = { ok: true; payload: string } | { ok: false; error: { errorType: string; errorMessage: string; trace?: string[] } };

/** The code each worker runs: loads the handler, serves invocations (`sandbox.mjs`). */
const SANDBOX = new URL('./sandbox.mjs', import.meta.url);

/** One execution environment: a worker thread that loads the code once and serves one invocation at a time. */
export class Sandbox {
  alive = true;
  /** Settles when the code has loaded (or failed to: the first invocation reports that). */
  readonly initialized: Promise<void>;
  private markInitialized!: () => void;
  /** The end of what the sandbox wrote to stderr: shown when it dies mid-invocation. */
  private stderrTail = '';
  private readonly worker: Worker;
  private current?: { id: string; settle: (outcome: Outcome) => void; timer?: NodeJS.Timeout };

  constructor(
    private readonly spec: FunctionSpec,
    env: Record<string, string>,
    armedFaults: string[],
    log: WriteStream,
  ) {
    this.initialized = new Promise<void>((resolve) => {
      this.markInitialized = resolve;
    });
    this.worker = new Worker(SANDBOX, {
      env,
      workerData: { codeDir: spec.codeDir, handler: spec.handler, armedFaults, memoryLimitBytes: spec.memorySize * 1024 * 1024 },
      resourceLimits: { maxOldGenerationSizeMb: spec.memorySize },
      stdout: true,
      stderr: true,
    });
    // One log per function, as a CloudWatch log group; written, not piped (many sandboxes share it).
    const write = (chunk: Buffer) => log.writable && log.write(chunk);
    this.worker.stdout.on('data', write);
    this.worker.stderr.on('data', (chunk: Buffer) => {
      write(chunk);
      this.stderrTail = (this.stderrTail + chunk.toString()).slice(-2000);
    });
    this.worker.on('message', (message) => this.onMessage(message));
    this.worker.on('error', (error) => this.die('Runtime.ExitError', `Runtime exited with error: ${error.message}`));
    this.worker.on('exit', (code) => {
      this.markInitialized();
      this.die('Runtime.ExitError', `Runtime exited with error: exit status ${code}`);
    });
  }

  post(message: unknown) {
    if (this.alive) this.worker.postMessage(message);
  }

  invoke(event: unknown): Promise<Outcome> {
    const id = randomUUID();
    const { spec } = this;
    return new Promise<Outcome>((settle) => {
      this.current = { id, settle };
      this.worker.postMessage({
        type: 'invoke',
        id,
        event: JSON.stringify(event ?? null),
        context: {
          functionName: spec.name,
          functionVersion: '$LATEST',
          invokedFunctionArn: spec.arn,
          memoryLimitInMB: String(spec.memorySize),
          awsRequestId: id,
          logGroupName: `/aws/lambda/${spec.name}`,
          logStreamName: `${new Date().toISOString().slice(0, 10).replace(/-/g, '/')}/[$LATEST]${randomBytes(16).toString('hex')}`,
          timeoutMs: spec.timeoutSeconds * 1000,
        },
      });
    });
  }

  /** The handler started (init is done): from now on the function's timeout runs. */
  private started(id: string) {
    const current = this.current;
    if (!current || current.id !== id) return;
    const { spec } = this;
    current.timer = setTimeout(() => {
      // Lambda stops the sandbox at the timeout; the next invocation starts a fresh one.
      this.finish({
        ok: false,
        error: {
          errorType: 'Sandbox.Timedout',
          errorMessage: `RequestId: ${id} Error: Task timed out after ${spec.timeoutSeconds.toFixed(2)} seconds`,
        },
      });
      void this.terminate();
    }, spec.timeoutSeconds * 1000);
  }

  async terminate() {
    this.alive = false;
    await this.worker.terminate();
  }

  private finish(outcome: Outcome) {
    const current = this.current;
    if (!current) return;
    this.current = undefined;
    clearTimeout(current.timer);
    current.settle(outcome);
  }

  private die(errorType: string, errorMessage: string) {
    if (!this.alive && !this.current) return;
    this.alive = false;
    if (this.current) console.error(`[${this.spec.logicalId}] sandbox died: ${errorMessage}\n${this.stderrTail}`);
    this.finish({ ok: false, error: { errorType, errorMessage } });
  }

  private onMessage(message: {
    type: string;
    id?: number | string;
    ok?: boolean;
    init?: boolean;
    payload?: string;
    error?: { errorType: string; errorMessage: string; trace?: string[] };
    point?: string;
    subject?: string;
    bytes?: number;
  }) {
    switch (message.type) {
      case 'init':
        this.markInitialized();
        return;
      case 'started':
        this.started(message.id as string);
        return;
      case 'result':
        if (message.id !== this.current?.id) return;
        // A failed init discards the sandbox: Lambda runs the init again on the next invocation.
        if (message.init) void this.terminate();
        this.finish(message.ok ? { ok: true, payload: message.payload ?? 'null' } : { ok: false, error: message.error as never });
        return;
      case 'oom':
        // Lambda stops a sandbox that goes over its memory size, mid-invocation or not.
        if (this.current) console.error(`[${this.spec.logicalId}] sandbox used ${message.bytes} bytes, over ${this.spec.memorySize} MB`);
        this.finish({
          ok: false,
          error: {
            errorType: 'Runtime.OutOfMemory',
            errorMessage: `RequestId: ${this.current?.id} Error: Runtime exited with error: signal: killed`,
          },
        });
        void this.terminate();
        return;
      case 'crash':
        this.finish({
          ok: false,
          error: { errorType: 'Runtime.ExitError', errorMessage: `Runtime exited: ${message.error?.errorMessage}` },
        });
        void this.terminate();
        return;
      case 'fault': {
        const reply = (error?: Error) =>
          this.post({ type: 'fault-reply', id: message.id, error: error ? { name: error.name, message: error.message } : undefined });
        const fired = checkpoint(message.point as FaultPoint, message.subject);
        if (!fired) reply();
        else fired.then(() => reply(), reply);
        return;
      }
    }
  }
}
