import './polyfill';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import { assertSupported, isLambdaInvoke, isWaitForTaskToken, MAX_TIMER_SECONDS } from './unsupported';

export type ExecutionStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
export type TerminalStatus = Exclude<ExecutionStatus, 'RUNNING'>;

/** One entry of aws-local-stepfunctions' execution event log (StateEntered, StateExited, StateRetried, …). */
export type ExecutionEvent = ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

/** Error names as the Step Functions API returns them (`error.name` on the SDK side). */
export type SfnErrorName =
  | 'ExecutionAlreadyExists'
  | 'ExecutionDoesNotExist'
  | 'StateMachineDoesNotExist'
  | 'InvalidArn'
  | 'InvalidName'
  | 'InvalidExecutionInput'
  | 'InvalidOutput'
  | 'InvalidToken'
  | 'TaskTimedOut'
  | 'ValidationException';

/** An API error with AWS's name; the HTTP server turns it into a 400 with that `__type`. */
export class SfnApiError extends Error {
  constructor(
    override readonly name: SfnErrorName,
    message: string,
  ) {
    super(message);
  }
}

export interface ExecutionDescription {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  status: ExecutionStatus;
  startDate: Date;
  stopDate?: Date;
  /** JSON text, as StartExecution received it. */
  input: string;
  /** JSON text, SUCCEEDED only. */
  output?: string;
  error?: string;
  cause?: string;
}

export type ExecutionListItem = Pick<
  ExecutionDescription,
  'executionArn' | 'stateMachineArn' | 'name' | 'status' | 'startDate' | 'stopDate'
>;

/** Runs a handler the way Lambda would; `handlerFile` is a name under `lambdas/handlers/` (no extension). */
export type InvokeHandler = (handlerFile: string, payload: unknown) => Promise<unknown>;

export interface LocalStepFunctionsOptions {
  definition: object;
  stateMachineArn: string;
  invoke: InvokeHandler;
  /**
   * Function ARN (or name) → handler file, as `extractStateMachine` returns it. Without it (hand-written
   * definitions) the function name itself (the part after `:function:`) is passed to `invoke`.
   */
  handlers?: Record<string, string>;
  /**
   * Multiplies every Retry IntervalSeconds/MaxDelaySeconds (backoff kept). Default: env SFN_RETRY_SCALE, else 1
   * (AWS's real intervals).
   */
  retryScale?: number;
  /** Execution role reported in `$$.Execution.RoleArn`. */
  roleArn?: string;
}

type Json = Record<string, unknown>;
type Resolvers = { resolve: (value: unknown) => void; reject: (reason: unknown) => void };

interface TaskRecord {
  token: string;
  executionArn: string;
  stateName: string;
  open: boolean;
  settle?: Resolvers;
  timer?: NodeJS.Timeout;
}

interface ExecutionRecord extends ExecutionDescription {
  abort: () => void;
  events: ExecutionEvent[];
  openTasks: Set<TaskRecord>;
  done: Promise<ExecutionDescription>;
  /** Settles once the library's event log has closed and been copied into `events`. */
  logged: Promise<void>;
  markDone: (description: ExecutionDescription) => void;
}

/**
 * A task error that must neither be retried nor caught: it only unwinds an execution that was already stopped
 * (aborted or timed out) so the library's loop and timers end instead of running further states.
 */
class ExecutionClosed extends Error {
  override name = 'ExecutionClosed';
  readonly isRetryable = false;
  readonly isCatchable = false;
}

/** Sentinels for a top-level Fail state without Error/Cause (the library would invent `FailStateError` / a message). */
const NO_ERROR = '@ghostless/no-error';
const NO_CAUSE = '@ghostless/no-cause';

const TOKEN_PATTERN = /^AQ[A-Za-z0-9_-]{40,1000}$/;
// AWS: 1–80 chars; no whitespace, brackets, wildcards, `"#%\^|~`$&,;:/`, or control characters.
const NAME_PATTERN = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/\p{Cc}]{1,80}$/u;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const clone = <T>(value: T): T => (value === undefined ? value : JSON.parse(JSON.stringify(value)));

/** What Lambda reports for an uncaught error: Error = errorType, Cause = `{"errorType","errorMessage"}`. */
function lambdaError(thrown: unknown): Error {
  const errorType = thrown instanceof Error ? thrown.name : typeof thrown;
  const errorMessage = thrown instanceof Error ? thrown.message : String(thrown);
  return namedError(errorType, JSON.stringify({ errorType, errorMessage }));
}

/** The library matches Retry/Catch on `error.name` and reports `error.message` as the Cause. */
function namedError(name: string, cause: string): Error {
  const error = new Error(cause);
  error.name = name;
  return error;
}

/** Replaces the per-execution `$$.Task.Token` placeholder with this state entry's own token. */
function substitute(value: unknown, placeholder: string, token: string): unknown {
  if (typeof value === 'string') return value.includes(placeholder) ? value.split(placeholder).join(token) : value;
  if (Array.isArray(value)) return value.map((v) => substitute(v, placeholder, token));
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, placeholder, token)]));
  return value;
}

const functionNameOf = (value: string) => /^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)/.exec(value)?.[1] ?? value.split(':')[0] ?? value;

/**
 * Executes one state machine definition locally with Step Functions' API semantics: executions by name,
 * task tokens (one fresh token per `.waitForTaskToken` state entry), SendTaskSuccess/Failure, StopExecution,
 * and Lambda-shaped errors for Retry/Catch. The interpreter is aws-local-stepfunctions; every Task state is
 * overridden to call `invoke(handlerFile, payload)`.
 */
export class LocalStepFunctions {
  readonly stateMachineArn: string;
  readonly definition: Readonly<Json>;
  private readonly machine: StateMachine;
  private readonly invoke: InvokeHandler;
  private readonly handlers = new Map<string, string>();
  private readonly taskStates = new Map<string, { waitForTaskToken: boolean }>();
  private readonly executions = new Map<string, ExecutionRecord>();
  private readonly tasks = new Map<string, TaskRecord>();
  private readonly listeners = new Set<(description: ExecutionDescription) => void | Promise<void>>();
  private readonly roleArn: string;
  private readonly stateMachineName: string;

  constructor({ definition, stateMachineArn, invoke, handlers, retryScale, roleArn }: LocalStepFunctionsOptions) {
    const match = /^arn:[^:]+:states:([^:]*):(\d*):stateMachine:([^:]+)$/.exec(stateMachineArn);
    if (!match) throw new Error(`not a state machine ARN: ${stateMachineArn}`);
    this.stateMachineArn = stateMachineArn;
    this.stateMachineName = match[3] ?? '';
    this.roleArn = roleArn ?? `arn:aws:iam::${match[2]}:role/${this.stateMachineName}-role`;
    this.invoke = invoke;
    this.definition = clone(definition) as Json;
    assertSupported(this.definition);
    // The library validates the definition as written (asl-validator) …
    new StateMachine(this.definition as unknown as StateMachineDefinition);
    if (handlers) {
      for (const [key, file] of Object.entries(handlers)) {
        this.handlers.set(key, file);
        this.handlers.set(functionNameOf(key), file);
      }
    }
    // … and runs an adapted copy (see `adapt`), which would not pass the validator's path checks.
    const scale = retryScale ?? parseRetryScale(process.env.SFN_RETRY_SCALE);
    const adapted = this.adapt(clone(this.definition), scale, true);
    this.machine = new StateMachine(adapted as unknown as StateMachineDefinition, { validationOptions: { noValidate: true } });
  }

  /** Handler file a Task's FunctionName maps to (undefined when unknown). */
  handlerFor(functionName: unknown): string | undefined {
    if (typeof functionName !== 'string') return undefined;
    if (this.handlers.size === 0) return functionNameOf(functionName);
    return this.handlers.get(functionName) ?? this.handlers.get(functionNameOf(functionName));
  }

  /** Registers a listener for terminal transitions (SUCCEEDED/FAILED/TIMED_OUT/ABORTED); returns an unsubscribe. */
  onStatusChange(listener: (description: ExecutionDescription) => void | Promise<void>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  startExecution({ name, input, stateMachineArn }: { name?: string; input?: string; stateMachineArn?: string }): {
    executionArn: string;
    startDate: Date;
  } {
    if (stateMachineArn !== undefined && stateMachineArn !== this.stateMachineArn) {
      throw new SfnApiError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${stateMachineArn}'`);
    }
    const executionName = name ?? randomUUID();
    if (!NAME_PATTERN.test(executionName)) throw new SfnApiError('InvalidName', `Invalid Name: '${executionName}'`);
    const inputText = input ?? '{}';
    let parsedInput: unknown;
    try {
      parsedInput = JSON.parse(inputText);
    } catch {
      throw new SfnApiError('InvalidExecutionInput', 'Invalid State Machine Execution Input: must be valid JSON');
    }
    const executionArn = `${this.stateMachineArn.replace(':stateMachine:', ':execution:')}:${executionName}`;
    const existing = this.executions.get(executionArn);
    if (existing) {
      // AWS: same name + same input while RUNNING answers with the original execution.
      if (existing.status === 'RUNNING' && existing.input === inputText) return { executionArn, startDate: existing.startDate };
      throw new SfnApiError('ExecutionAlreadyExists', `Execution Already Exists: '${executionArn}'`);
    }

    const { promise: done, resolve: markDone } = Promise.withResolvers<ExecutionDescription>();
    const record: ExecutionRecord = {
      executionArn,
      stateMachineArn: this.stateMachineArn,
      name: executionName,
      status: 'RUNNING',
      startDate: new Date(),
      input: inputText,
      abort: () => {},
      events: [],
      openTasks: new Set(),
      done,
      logged: Promise.resolve(),
      markDone,
    };
    this.executions.set(executionArn, record);

    // One placeholder per execution; each `.waitForTaskToken` entry swaps in a fresh token of its own.
    const placeholder = `@ghostless/task-token/${randomUUID()}`;
    const overrides = Object.fromEntries(
      [...this.taskStates].map(([stateName, spec]) => [
        stateName,
        (taskInput: unknown) => this.runTask(record, stateName, spec.waitForTaskToken, taskInput, placeholder),
      ]),
    );
    const run = this.machine.run(parsedInput as never, {
      overrides: { taskResourceLocalHandlers: overrides as never },
      context: {
        Execution: { Id: executionArn, Name: executionName, RoleArn: this.roleArn, RedriveCount: 0 },
        StateMachine: { Id: this.stateMachineArn, Name: this.stateMachineName },
        Task: { Token: placeholder },
      },
    });
    record.abort = run.abort;
    record.logged = (async () => {
      for await (const event of run.eventLogs) record.events.push(event);
    })();
    // Terminal status only once the event log has drained, so history() is complete at that point.
    run.result
      .finally(() => record.logged)
      .then(
        (output) => this.finish(record, 'SUCCEEDED', { output: JSON.stringify(output ?? null) }),
        (error: unknown) => {
          if (error instanceof ExecutionAbortedError) this.finish(record, 'ABORTED', {});
          else if (error instanceof ExecutionTimeoutError) this.finish(record, 'TIMED_OUT', { error: 'States.Timeout' });
          else {
            const failure = error instanceof ExecutionError && error.cause instanceof Error ? error.cause : (error as Error);
            this.finish(record, 'FAILED', {
              error: failure?.name === NO_ERROR ? undefined : failure?.name,
              cause: failure?.message === NO_CAUSE ? undefined : failure?.message,
            });
          }
        },
      );
    return { executionArn, startDate: record.startDate };
  }

  /** Resumes the task that minted `token` with `output` (JSON text) as its result. */
  sendTaskSuccess(token: string, output: string): void {
    const task = this.openTask(token);
    let value: unknown;
    try {
      value = JSON.parse(output);
    } catch {
      throw new SfnApiError('InvalidOutput', 'Invalid Output: must be valid JSON');
    }
    this.closeTask(task)?.resolve(value);
  }

  /** Fails the task that minted `token`: Retry/Catch see `error` as the error name and `cause` as the Cause. */
  sendTaskFailure(token: string, error?: string, cause?: string): void {
    const task = this.openTask(token);
    this.closeTask(task)?.reject(namedError(error ?? '', cause ?? ''));
  }

  /** Accepted for open tasks (heartbeat timeouts are not part of any supported definition). */
  sendTaskHeartbeat(token: string): void {
    this.openTask(token);
  }

  /** Aborts a RUNNING execution (status ABORTED, its open tokens die); a closed one is left as it is. */
  stopExecution(executionArn: string, { error, cause }: { error?: string; cause?: string } = {}): { stopDate: Date } {
    const record = this.execution(executionArn);
    if (record.status === 'RUNNING') {
      record.abort(); // settles the library's result with ExecutionAbortedError before any task unwinds
      this.finish(record, 'ABORTED', { error, cause });
    }
    return { stopDate: record.stopDate ?? new Date() };
  }

  describeExecution(executionArn: string): ExecutionDescription {
    return describe(this.execution(executionArn));
  }

  listExecutions({
    statusFilter,
    maxResults,
    nextToken,
  }: {
    statusFilter?: ExecutionStatus;
    maxResults?: number;
    nextToken?: string;
  } = {}): {
    executions: ExecutionListItem[];
    nextToken?: string;
  } {
    const all = [...this.executions.values()]
      .filter((e) => !statusFilter || e.status === statusFilter)
      .sort((a, b) => b.startDate.getTime() - a.startDate.getTime());
    const offset = nextToken ? Number.parseInt(Buffer.from(nextToken, 'base64url').toString(), 10) : 0;
    if (!Number.isInteger(offset) || offset < 0) throw new SfnApiError('ValidationException', 'Invalid nextToken');
    const size = maxResults && maxResults > 0 ? Math.min(maxResults, 1000) : 100;
    const page = all.slice(offset, offset + size).map(({ executionArn, stateMachineArn, name, status, startDate, stopDate }) => ({
      executionArn,
      stateMachineArn,
      name,
      status,
      startDate,
      ...(stopDate ? { stopDate } : {}),
    }));
    return {
      executions: page,
      ...(offset + size < all.length ? { nextToken: Buffer.from(String(offset + size)).toString('base64url') } : {}),
    };
  }

  /** The library's event log for an execution so far (StateEntered/StateExited/StateRetried/…). */
  history(executionArn: string): ExecutionEvent[] {
    return [...this.execution(executionArn).events];
  }

  /** Resolves once the execution reaches a terminal status. */
  whenDone(executionArn: string): Promise<ExecutionDescription> {
    return this.execution(executionArn).done;
  }

  /** Aborts every RUNNING execution (cause "local runtime closed"), e.g. on shutdown, so no timer is left. */
  close(): void {
    for (const record of this.executions.values()) {
      if (record.status === 'RUNNING') this.stopExecution(record.executionArn, { cause: 'local runtime closed' });
    }
  }

  // ---------------------------------------------------------------------------------------------------------

  private execution(executionArn: string): ExecutionRecord {
    if (typeof executionArn !== 'string' || !/^arn:[^:]+:states:[^:]*:\d*:execution:[^:]+:[^:]+$/.test(executionArn)) {
      throw new SfnApiError('InvalidArn', `Invalid Arn: '${executionArn}'`);
    }
    const record = this.executions.get(executionArn);
    if (!record) throw new SfnApiError('ExecutionDoesNotExist', `Execution Does Not Exist: '${executionArn}'`);
    return record;
  }

  private openTask(token: string): TaskRecord {
    const task = typeof token === 'string' && TOKEN_PATTERN.test(token) ? this.tasks.get(token) : undefined;
    if (!task) throw new SfnApiError('InvalidToken', 'Invalid Token');
    if (!task.open) throw new SfnApiError('TaskTimedOut', 'Task Timed Out');
    return task;
  }

  /** Marks a task closed (its token answers TaskTimedOut from now on) and hands back its resolvers once. */
  private closeTask(task: TaskRecord): Resolvers | undefined {
    if (!task.open) return undefined;
    task.open = false;
    clearTimeout(task.timer);
    this.executions.get(task.executionArn)?.openTasks.delete(task);
    const settle = task.settle;
    task.settle = undefined;
    return settle;
  }

  private finish(record: ExecutionRecord, status: TerminalStatus, fields: Pick<ExecutionDescription, 'output' | 'error' | 'cause'>) {
    if (record.status !== 'RUNNING') return;
    Object.assign(record, { status, stopDate: new Date() }, fields);
    for (const task of [...record.openTasks]) this.closeTask(task)?.reject(new ExecutionClosed(status));
    const description = describe(record);
    for (const listener of this.listeners) {
      try {
        Promise.resolve(listener(description)).catch((error) => console.error('[local-sfn] status listener failed', error));
      } catch (error) {
        console.error('[local-sfn] status listener failed', error);
      }
    }
    // whenDone() waits for the event log too (StopExecution flips the status synchronously, before it drains).
    void record.logged.then(() => record.markDone(description));
  }

  /**
   * Task override, called synchronously by the library with the state's processed input — which `adapt`
   * shaped as `{ params: <the state's Parameters, resolved>, timeout: <seconds> }`. The library reads
   * `$.timeout` right after this returns, so the timer below starts just before the library's own.
   */
  private runTask(
    record: ExecutionRecord,
    stateName: string,
    waitForTaskToken: boolean,
    input: unknown,
    placeholder: string,
  ): Promise<unknown> {
    if (record.status !== 'RUNNING') return Promise.reject(new ExecutionClosed(record.status));
    const box = input as { params?: unknown; timeout?: unknown };
    if (typeof box.timeout !== 'number' || !Number.isInteger(box.timeout) || box.timeout < 1) {
      // Invalid TimeoutSecondsPath value: the library fails the state with States.Runtime before any invocation.
      return new Promise(() => {});
    }
    const timeoutSeconds = Math.min(box.timeout, MAX_TIMER_SECONDS);
    box.timeout = timeoutSeconds;
    const params = isObject(box.params) ? box.params : {};
    const handlerFile = this.handlerFor(params.FunctionName);
    if (!handlerFile) {
      return Promise.reject(namedError('Lambda.ResourceNotFoundException', `Function not found: ${String(params.FunctionName)}`));
    }
    const payload = clone(params.Payload === undefined ? {} : params.Payload);

    if (!waitForTaskToken) {
      return this.callHandler(handlerFile, payload).then((result) => ({
        ExecutedVersion: '$LATEST',
        Payload: clone(result ?? null),
        StatusCode: 200,
      }));
    }

    const token = `AQ${randomBytes(48).toString('base64url')}`;
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const task: TaskRecord = { token, executionArn: record.executionArn, stateName, open: true, settle: { resolve, reject } };
    // Same delay as the library's States.Timeout timer, created first: the token is closed before the state fails.
    task.timer = setTimeout(() => this.closeTask(task), timeoutSeconds * 1000);
    this.tasks.set(token, task);
    record.openTasks.add(task);
    this.callHandler(handlerFile, substitute(payload, placeholder, token)).catch((error: unknown) => {
      // A Lambda error after the task closed (answered, timed out, stopped) changes nothing, as on AWS.
      this.closeTask(task)?.reject(error);
    });
    return promise;
  }

  private callHandler(handlerFile: string, payload: unknown): Promise<unknown> {
    return Promise.resolve()
      .then(() => this.invoke(handlerFile, payload))
      .catch((error: unknown) => {
        throw lambdaError(error);
      });
  }

  /**
   * The copy the library runs. Per Task: Parameters become `{params: <original>, timeout: <TimeoutSeconds or
   * TimeoutSecondsPath evaluated on the state input>}` and `TimeoutSecondsPath: "$.timeout"` — the library
   * would otherwise evaluate TimeoutSecondsPath against the Parameters output (States.Runtime for CDK's
   * `Timeout.at('$.x')`) and default to 60 s where AWS has no limit. Retry intervals are scaled; top-level
   * Fail states without Error/Cause get sentinels so DescribeExecution leaves them empty as AWS does.
   */
  private adapt(machine: Json, retryScale: number, topLevel: boolean): Json {
    const states = isObject(machine.States) ? machine.States : {};
    for (const [stateName, state] of Object.entries(states)) {
      if (!isObject(state)) continue;
      if (retryScale !== 1 && Array.isArray(state.Retry)) {
        for (const retrier of state.Retry as Json[]) {
          retrier.IntervalSeconds = (typeof retrier.IntervalSeconds === 'number' ? retrier.IntervalSeconds : 1) * retryScale;
          if (typeof retrier.MaxDelaySeconds === 'number') retrier.MaxDelaySeconds *= retryScale;
        }
      }
      switch (state.Type) {
        case 'Task': {
          if (!isLambdaInvoke(state.Resource)) break; // assertSupported already refused it
          this.taskStates.set(stateName, { waitForTaskToken: isWaitForTaskToken(state.Resource) });
          const params = state.Parameters;
          if (isObject(params) && typeof params.FunctionName === 'string' && !this.handlerFor(params.FunctionName)) {
            throw new Error(`Task state ${stateName}: no handler file for FunctionName ${params.FunctionName}`);
          }
          const timeout =
            typeof state.TimeoutSecondsPath === 'string'
              ? { 'timeout.$': state.TimeoutSecondsPath }
              : {
                  timeout: Math.min(typeof state.TimeoutSeconds === 'number' ? state.TimeoutSeconds : MAX_TIMER_SECONDS, MAX_TIMER_SECONDS),
                };
          state.Parameters = { ...(params === undefined ? { 'params.$': '$' } : { params }), ...timeout };
          delete state.TimeoutSeconds;
          state.TimeoutSecondsPath = '$.timeout';
          break;
        }
        case 'Parallel':
          for (const branch of Array.isArray(state.Branches) ? (state.Branches as Json[]) : []) this.adapt(branch, retryScale, false);
          break;
        case 'Map': {
          const processor = isObject(state.ItemProcessor) ? state.ItemProcessor : isObject(state.Iterator) ? state.Iterator : undefined;
          if (processor) this.adapt(processor, retryScale, false);
          break;
        }
        case 'Fail':
          if (topLevel) {
            if (state.Error === undefined && state.ErrorPath === undefined) state.Error = NO_ERROR;
            if (state.Cause === undefined && state.CausePath === undefined) state.Cause = NO_CAUSE;
          }
          break;
      }
    }
    return machine;
  }
}

function describe(record: ExecutionRecord): ExecutionDescription {
  const { executionArn, stateMachineArn, name, status, startDate, stopDate, input, output, error, cause } = record;
  return {
    executionArn,
    stateMachineArn,
    name,
    status,
    startDate,
    input,
    ...(stopDate ? { stopDate } : {}),
    ...(output !== undefined ? { output } : {}),
    ...(error !== undefined ? { error } : {}),
    ...(cause !== undefined ? { cause } : {}),
  };
}

function parseRetryScale(value: string | undefined): number {
  if (value === undefined || value === '') return 1;
  const scale = Number(value);
  if (!Number.isFinite(scale) || scale <= 0) throw new Error(`SFN_RETRY_SCALE must be a positive number, got ${JSON.stringify(value)}`);
  return scale;
}

/** The `detail` of an EventBridge "Step Functions Execution Status Change" event for a description. */
export function toStatusChangeDetail(description: ExecutionDescription) {
  return {
    executionArn: description.executionArn,
    stateMachineArn: description.stateMachineArn,
    name: description.name,
    status: description.status,
    startDate: description.startDate.getTime(),
    stopDate: description.stopDate?.getTime() ?? null,
    input: description.input,
    output: description.output ?? null,
    error: description.error ?? null,
    cause: description.cause ?? null,
  };
}
