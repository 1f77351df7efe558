import type { StateMachine } from 'aws-local-stepfunctions';

/** What the Step Functions API reports about executions: statuses, descriptions, error names. */

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

type ExecutionListItem = Pick<ExecutionDescription, 'executionArn' | 'stateMachineArn' | 'name' | 'status' | 'startDate' | 'stopDate'>;

export interface ListExecutionsQuery {
  statusFilter?: ExecutionStatus;
  maxResults?: number;
  nextToken?: string;
}

export interface ExecutionListPage {
  executions: ExecutionListItem[];
  nextToken?: string;
}

/** One ListExecutions page: newest first, 100 by default (1000 at most), `nextToken` = the next offset. */
export function listExecutionPage(
  executions: Iterable<ExecutionDescription>,
  { statusFilter, maxResults, nextToken }: ListExecutionsQuery,
): ExecutionListPage {
  const all = [...executions]
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

/** The DescribeExecution fields of an execution (or of a record that extends one), absent ones left out. */
export function describe(record: ExecutionDescription): ExecutionDescription {
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

// What the runtime keeps per execution and per task token.

export type Resolvers = { resolve: (value: unknown) => void; reject: (reason: unknown) => void };

export interface TaskRecord {
  token: string;
  executionArn: string;
  stateName: string;
  open: boolean;
  settle?: Resolvers;
  timer?: NodeJS.Timeout;
}

export interface ExecutionRecord extends ExecutionDescription {
  abort: () => void;
  events: ExecutionEvent[];
  openTasks: Set<TaskRecord>;
  done: Promise<ExecutionDescription>;
  /** Settles once the library's event log has closed and been copied into `events`. */
  logged: Promise<void>;
  markDone: (description: ExecutionDescription) => void;
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
