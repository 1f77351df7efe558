import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  type SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { checkpoint } from '../domain/faults';
import type { ExecutionStatus, Workflow } from '../domain/ports';

/** Errors that mean "that execution or task is already gone": a late or repeated call, not a failure. */
const GONE = new Set(['TaskDoesNotExist', 'TaskTimedOut', 'InvalidToken', 'ExecutionDoesNotExist', 'ExecutionAlreadyExists']);

/** Step Functions behind the Workflow port: one Standard execution per job, named after the job. */
export class SfnWorkflow implements Workflow {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
    private readonly input: (jobId: string) => Record<string, unknown>,
    private readonly log: (message: string, fields: Record<string, unknown>) => void,
  ) {}

  async start(jobId: string) {
    await checkpoint('sfn:start-execution', jobId);
    // Same name and input as a running execution: AWS answers with that execution, so retries are safe.
    await this.tolerate('start', () =>
      this.sfn.send(
        new StartExecutionCommand({ stateMachineArn: this.stateMachineArn, name: jobId, input: JSON.stringify(this.input(jobId)) }),
      ),
    );
  }

  async resume(token: string, output: unknown) {
    await checkpoint('sfn:send-task-success', token);
    await this.tolerate('resume', () =>
      this.sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify(output ?? {}) })),
    );
  }

  async fail(token: string, error: string, cause: string) {
    await this.tolerate('fail', () => this.sfn.send(new SendTaskFailureCommand({ taskToken: token, error, cause })));
  }

  async stop(jobId: string, cause: string) {
    await this.tolerate('stop', () => this.sfn.send(new StopExecutionCommand({ executionArn: this.executionArn(jobId), cause })));
  }

  async status(jobId: string): Promise<ExecutionStatus> {
    await checkpoint('sfn:describe-execution', jobId);
    try {
      const { status } = await this.sfn.send(new DescribeExecutionCommand({ executionArn: this.executionArn(jobId) }));
      return (status as ExecutionStatus | undefined) ?? 'MISSING';
    } catch (error) {
      if ((error as Error).name === 'ExecutionDoesNotExist') return 'MISSING';
      throw error;
    }
  }

  async runningJobIds() {
    const names = new Set<string>();
    let nextToken: string | undefined;
    do {
      const page = await this.sfn.send(
        new ListExecutionsCommand({ stateMachineArn: this.stateMachineArn, statusFilter: 'RUNNING', maxResults: 1000, nextToken }),
      );
      for (const execution of page.executions ?? []) if (execution.name) names.add(execution.name);
      nextToken = page.nextToken;
    } while (nextToken);
    return names;
  }

  private executionArn(jobId: string) {
    return `${this.stateMachineArn.replace(':stateMachine:', ':execution:')}:${jobId}`;
  }

  private async tolerate(action: string, call: () => Promise<unknown>) {
    try {
      await call();
    } catch (error) {
      if (!GONE.has((error as Error).name)) throw error;
      this.log(`workflow ${action}: target already gone`, { error: (error as Error).name });
    }
  }
}
