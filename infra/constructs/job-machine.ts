import { ArnFormat, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import {
  Choice,
  Condition,
  DefinitionBody,
  Fail,
  IntegrationPattern,
  JitterType,
  JsonPath,
  LogLevel,
  Pass,
  StateMachine,
  StateMachineType,
  Succeed,
  TaskInput,
  Timeout,
  Wait,
  WaitTime,
} from 'aws-cdk-lib/aws-stepfunctions';
import { LambdaInvoke } from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { BUSY_HOLD_MS } from '../../lambdas/domain/queue';
import { COLLECT_RETRY, FINALIZE_RETRY, type RetryPolicy, STEP_TIMEOUT_SECONDS, THROTTLE_RETRY } from '../../lambdas/domain/run-budget';
import { ENV } from '../../lambdas/env-names';
import { acknowledge, acknowledgeWildcard } from '../nag';
import { GhostlessFunction } from './ghostless-function';
import { ADMITTED_PREFIX, OUTPUTS_PREFIX, type Storage } from './storage';

export interface JobMachineProps {
  storage: Storage;
  /** Environment shared by every function (table, limits, provider). */
  environment: Record<string, string>;
  /** Where the provider's webhook reaches the API. */
  publicApiUrl: string;
}

const retryProps = ({ maxAttempts, intervalSeconds, backoffRate, maxDelaySeconds }: RetryPolicy) => ({
  maxAttempts,
  interval: Duration.seconds(intervalSeconds),
  backoffRate,
  ...(maxDelaySeconds !== undefined && { maxDelay: Duration.seconds(maxDelaySeconds) }),
});

/** Name fixed up front so functions can be granted on the ARN without a dependency cycle. */
export const stateMachineArnOf = (scope: Construct) => {
  const stack = Stack.of(scope);
  const name = `${stack.stackName}-jobs`;
  return {
    name,
    arn: stack.formatArn({ service: 'states', resource: 'stateMachine', resourceName: name, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
    executions: stack.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${name}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    }),
  };
};

/**
 * One Standard execution per job: wait for a slot (parked on a task token, no polling), run on the
 * provider (resumed by its webhook), collect outputs, finalize. Every state's Catch leads to a finalize.
 */
export class JobMachine extends Construct {
  readonly stateMachine: StateMachine;
  readonly functions: GhostlessFunction[];

  constructor(scope: Construct, id: string, { storage, environment, publicApiUrl }: JobMachineProps) {
    super(scope, id);
    const { name, arn } = stateMachineArnOf(this);
    const step = (fnId: string, handlerFile: string, timeout: number, memorySize?: number) =>
      new GhostlessFunction(this, fnId, { handlerFile, environment, timeout: Duration.seconds(timeout), ...(memorySize && { memorySize }) })
        .bindTable(storage.table)
        .allowTaskResponses(arn);
    // Runs in the execution's own flow between two parks: it answers no task token.
    const stageFn = new GhostlessFunction(this, 'StageInputsFunction', {
      handlerFile: 'stage-inputs',
      environment,
      timeout: Duration.seconds(STEP_TIMEOUT_SECONDS.stageInputs),
    })
      .bindTable(storage.table)
      .bindBucket(storage.bucket, { read: [ADMITTED_PREFIX] });

    const waitFn = step('WaitForSlotFunction', 'wait-for-slot', STEP_TIMEOUT_SECONDS.waitForSlot);
    const runFn = step('RunOnProviderFunction', 'run-on-provider', STEP_TIMEOUT_SECONDS.runOnProvider)
      // Presigns the admitted copies of the inputs, never the keys the browser can still upload to.
      .bindBucket(storage.bucket, { read: [ADMITTED_PREFIX] })
      .addEnvironment(ENV.publicApiUrl, publicApiUrl);
    // Collecting streams each output (at most 40 MiB in flight, provider-output.ts) and sniffs its type: 256 MB covers
    // that plus the runtime. 300 s moves the largest output (OUTPUT_LIMITS: 2 GiB) at 7.2 MB/s or faster.
    const collectFn = step('CollectOutputsFunction', 'collect-outputs', STEP_TIMEOUT_SECONDS.collectOutputs, 256).bindBucket(
      storage.bucket,
      {
        write: [OUTPUTS_PREFIX],
        streamed: true,
      },
    );
    const finalizeFn = step('FinalizeFunction', 'finalize', STEP_TIMEOUT_SECONDS.finalize);
    this.functions = [waitFn, stageFn, runFn, collectFn, finalizeFn];

    const jobId = JsonPath.stringAt('$.jobId');
    const waitForSlot = new LambdaInvoke(this, 'WaitForSlot', {
      lambdaFunction: waitFn,
      integrationPattern: IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: TaskInput.fromObject({ jobId, taskToken: JsonPath.taskToken }),
      taskTimeout: Timeout.at('$.queueTimeoutSeconds'),
      resultPath: '$.grant',
    });
    // The next job in line, every slot taken, is woken with {stage: true} instead of a slot (queue.ts): it puts its
    // inputs at the provider now and parks again for what is left of its queue timeout, so that its hand-off is the
    // create alone. A staging that fails is not the job's failure: the run stages the inputs, as it would have.
    const stageInputs = new LambdaInvoke(this, 'StageInputs', {
      lambdaFunction: stageFn,
      payload: TaskInput.fromObject({ jobId }),
      resultSelector: { 'queueTimeoutSeconds.$': '$.Payload.queueTimeoutSeconds' },
      resultPath: '$.staged',
    });
    const parkAgain = new Pass(this, 'ParkAgain', {
      parameters: { state: JsonPath.jsonMerge(JsonPath.entirePayload, JsonPath.objectAt('$.staged')) },
      outputPath: '$.state',
    });
    const runOnProvider = new LambdaInvoke(this, 'RunOnProvider', {
      lambdaFunction: runFn,
      integrationPattern: IntegrationPattern.WAIT_FOR_TASK_TOKEN,
      payload: TaskInput.fromObject({ jobId, taskToken: JsonPath.taskToken }),
      taskTimeout: Timeout.at('$.runTimeoutSeconds'),
      resultPath: '$.run',
    });
    const collectOutputs = new LambdaInvoke(this, 'CollectOutputs', {
      lambdaFunction: collectFn,
      payload: TaskInput.fromObject({ jobId }),
      resultSelector: { 'outputs.$': '$.Payload' },
      resultPath: '$.collected',
    });
    collectOutputs.addRetry({ errors: ['Error'], ...retryProps(COLLECT_RETRY) });
    const finalize = new LambdaInvoke(this, 'Finalize', {
      lambdaFunction: finalizeFn,
      payload: TaskInput.fromObject({ jobId, outputs: JsonPath.objectAt('$.collected.outputs') }),
      resultPath: JsonPath.DISCARD,
    });
    const finalizeFailure = new LambdaInvoke(this, 'FinalizeFailure', {
      lambdaFunction: finalizeFn,
      payload: TaskInput.fromObject({ jobId, failure: JsonPath.objectAt('$.failure') }),
      resultPath: JsonPath.DISCARD,
    });
    for (const task of [finalize, finalizeFailure]) {
      task.addRetry({ errors: ['States.ALL'], ...retryProps(FINALIZE_RETRY) });
    }

    for (const task of [waitForSlot, stageInputs, runOnProvider, collectOutputs, finalize, finalizeFailure]) {
      // LambdaInvoke already retries Lambda.ServiceException, AWSLambdaException and SdkClientException; a throttle is
      // transient too. Invoked again at 1, 2, 4 … 30 s (with jitter): about 3 minutes before the Catch decides.
      task.addRetry({ errors: ['Lambda.TooManyRequestsException'], ...retryProps(THROTTLE_RETRY), jitterStrategy: JitterType.FULL });
    }

    const done = new Succeed(this, 'Done');
    for (const task of [waitForSlot, stageInputs, runOnProvider, collectOutputs]) {
      // Cancelled or healed while this state ran: the job is already final.
      task.addCatch(done, { errors: ['JobFinished'] });
    }
    stageInputs.addCatch(waitForSlot, { errors: ['States.ALL'], resultPath: '$.stageFailure' });
    stageInputs.next(parkAgain);
    parkAgain.next(waitForSlot);
    const slotOrStage = new Choice(this, 'SlotOrStage')
      .when(Condition.and(Condition.isPresent('$.grant.stage'), Condition.booleanEquals('$.grant.stage', true)), stageInputs)
      .otherwise(runOnProvider);
    // The provider key is full (421/415) or refused for now: RunOnProvider put the job back at the head of the queue.
    // It parks again once the key's answer has aged: when nothing of Ghostless runs on the key, no release would
    // wake the queue, and a refused create is not tried again at once. A slot freed meanwhile still goes to it.
    const busyBackoff = new Wait(this, 'ProviderBusyBackoff', { time: WaitTime.duration(Duration.millis(BUSY_HOLD_MS)) });
    busyBackoff.next(waitForSlot);
    // RunOnProvider sent the job back to the queue and says how long it may still wait there (its queue timeout counts
    // from admission): that replaces the input's queueTimeoutSeconds, so WaitForSlot's timer does not start afresh.
    const queueTimeLeft = new Pass(this, 'QueueTimeLeft', {
      parameters: {
        state: JsonPath.jsonMerge(JsonPath.entirePayload, JsonPath.stringToJson(JsonPath.stringAt('$.requeued.Cause'))),
      },
      outputPath: '$.state',
    });
    queueTimeLeft.next(busyBackoff);
    runOnProvider.next(collectOutputs).next(finalize).next(done);
    runOnProvider.addCatch(queueTimeLeft, { errors: ['Requeued'], resultPath: '$.requeued' });
    // Thrown before any requeue (an upload refused for capacity, say): the job still holds its slot and runs again.
    runOnProvider.addCatch(busyBackoff, { errors: ['ProviderBusy', 'ProviderUnavailable'], resultPath: '$.busy' });
    for (const task of [waitForSlot, runOnProvider, collectOutputs, finalize]) {
      task.addCatch(finalizeFailure, { errors: ['States.ALL'], resultPath: '$.failure' });
    }
    // Left to the execution-failure cleanup and the sweeper.
    finalizeFailure.addCatch(new Fail(this, 'FinalizeFailed', { error: 'FinalizeFailed' }), { errors: ['States.ALL'] });
    finalizeFailure.next(done);

    this.stateMachine = new StateMachine(this, 'StateMachine', {
      stateMachineName: name,
      stateMachineType: StateMachineType.STANDARD,
      definitionBody: DefinitionBody.fromChainable(waitForSlot.next(slotOrStage)),
      timeout: Duration.hours(6),
      // Every state transition is logged, without the payloads: they carry task tokens.
      logs: {
        destination: new LogGroup(this, 'StateMachineLogs', { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY }),
        level: LogLevel.ALL,
        includeExecutionData: false,
      },
      tracingEnabled: true,
    });
    const policy = this.stateMachine.role.node.tryFindChild('DefaultPolicy') ?? this.stateMachine.role;
    for (const fn of this.functions) {
      acknowledgeWildcard(
        policy,
        `${fn.functionArn}:*`,
        'LambdaInvoke grants the step function and its versions/aliases (`:*`); only these four functions are invocable.',
      );
    }
    acknowledge(
      policy,
      'IAM5[Resource::*]',
      'CloudWatch Logs vended delivery (logs:*LogDelivery*) and X-Ray PutTraceSegments support no resource-level permissions.',
    );
  }
}
