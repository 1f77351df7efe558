import './polyfill';
import { randomBytes, randomUUID } from 'node:crypto';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import { adaptDefinition, NO_CAUSE, NO_ERROR, parseRetryScale, type TaskStateSpec } from './definition-adapter';
import {
  describe,
  type ExecutionDescription,
  type ExecutionEvent,
  type ExecutionListPage,
  type ExecutionRecord,
  type ListExecutionsQuery,
  listExecutionPage,
  type Resolvers,
  SfnApiError,
  type TaskRecord,
  type TerminalStatus,
} from './execution-model';
import { clone, ExecutionClosed, functionNameOf, isObject, type Json, lambdaError, namedError, substitute } from './lambda-task';
import { assertSupported, MAX_TIMER_SECONDS } from './unsupported';

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

const TOKEN_PATTERN = /^AQ[A-Za-z0-9_-]{40,1000}$/;
// AWS: 1–80 chars; no whitespace, brackets, wildcards, `"#%\^|~`$&,;:/`, or control characters.
const NAME_PATTERN = /^[^\s<>{}[\]?*"#%\\^|~`$&,;:/\p{Cc}]{1,80}$/u;

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
  private readonly taskStates: ReadonlyMap<string, TaskStateSpec>;
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
    // … and runs an adapted copy (see `adaptDefinition`), which would not pass the validator's path checks.
    const scale = retryScale ?? parseRetryScale(process.env.SFN_RETRY_SCALE);
    const adapted = adaptDefinition(this.definition, { retryScale: scale, handlerFor: (name) => this.handlerFor(name) });
    this.taskStates = adapted.taskStates;
    this.machine = new StateMachine(adapted.definition as unknown as StateMachineDefinition, { validationOptions: { noValidate: true } });
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

  listExecutions(query: ListExecutionsQuery = {}): ExecutionListPage {
    return listExecutionPage(this.executions.values(), query);
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
   * Task override, called synchronously by the library with the state's processed input — which `adaptDefinition`
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
}
