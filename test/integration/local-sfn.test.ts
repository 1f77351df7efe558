import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SendTaskFailureCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from '@aws-sdk/client-sfn';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../infra/constructs/ghostless-function';
import { LocalStepFunctions } from '../../local/stepfunctions/asl-runtime';
import type { ExecutionDescription } from '../../local/stepfunctions/execution-model';
import { type LocalSfnServer, startLocalSfnServer } from '../../local/stepfunctions/server';
import { extractStateMachine, synthesizeTemplate } from '../../local/stepfunctions/template';
import { findUnsupported, isLambdaInvoke } from '../../local/stepfunctions/unsupported';

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:test-jobs';
const fn = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;

/** Shaped like the real machine: a callback task with TimeoutSecondsPath, a plain invoke with ResultSelector, Retry/Catch. */
const DEFINITION = {
  StartAt: 'Park',
  TimeoutSeconds: 300,
  States: {
    Park: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: { FunctionName: fn('Park'), Payload: { 'id.$': '$.id', 'mode.$': '$.mode', 'taskToken.$': '$$.Task.Token' } },
      TimeoutSecondsPath: '$.timeout',
      ResultPath: '$.grant',
      Retry: [{ ErrorEquals: ['Flaky'], IntervalSeconds: 1, MaxAttempts: 2, BackoffRate: 2 }],
      Catch: [
        { ErrorEquals: ['JobFinished'], Next: 'Finished' },
        { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'Triage' },
      ],
      Next: 'Work',
    },
    Triage: {
      Type: 'Choice',
      Choices: [{ Variable: '$.failure.Error', StringEquals: 'States.Timeout', Next: 'Late' }],
      Default: 'Failed',
    },
    // A second callback after a timeout: lets a test use the timed-out token while the execution still runs.
    Late: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: { FunctionName: fn('Park'), Payload: { 'id.$': '$.id', 'mode.$': '$.mode', 'taskToken.$': '$$.Task.Token' } },
      TimeoutSeconds: 30,
      ResultPath: '$.late',
      Next: 'Failed',
    },
    Work: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: fn('Work'), Payload: { 'id.$': '$.id', 'mode.$': '$.mode' } },
      ResultSelector: { 'out.$': '$.Payload' },
      ResultPath: '$.work',
      Retry: [{ ErrorEquals: ['Error'], IntervalSeconds: 1, MaxAttempts: 2, BackoffRate: 2 }],
      Catch: [
        { ErrorEquals: ['Fatal'], Next: 'Fatal' },
        { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'Failed' },
      ],
      Next: 'Done',
    },
    Finished: { Type: 'Pass', Result: 'finished', ResultPath: '$.finished', Next: 'Done' },
    Failed: { Type: 'Pass', Parameters: { 'failure.$': '$.failure', outcome: 'failed' }, End: true },
    Fatal: { Type: 'Fail', Error: 'Fatal' },
    Done: { Type: 'Succeed' },
  },
};

type Input = { id: string; mode?: string; timeout?: number };
const input = ({ id, mode = 'ok', timeout = 30 }: Input) => JSON.stringify({ id, mode, timeout });

/** Every token the Park handler received, per job id, in order; `parked(id, n)` waits for the n-th. */
const tokens = new Map<string, string[]>();
const waiters = new Map<string, () => void>();
const calls = { Park: 0, Work: new Map<string, number>() };
function parked(id: string, attempt = 1): Promise<string> {
  const ready = () => tokens.get(id)?.[attempt - 1];
  return new Promise((resolve) => {
    const check = () => {
      const token = ready();
      if (token) resolve(token);
      else waiters.set(`${id}#${attempt}`, check);
    };
    check();
  });
}

class Flaky extends Error {
  override name = 'Flaky';
}
class Fatal extends Error {
  override name = 'Fatal';
}

async function invoke(handlerFile: string, payload: unknown): Promise<unknown> {
  const { id, mode, taskToken } = payload as { id: string; mode: string; taskToken?: string };
  if (handlerFile === 'Park') {
    calls.Park++;
    const list = tokens.get(id) ?? [];
    list.push(taskToken as string);
    tokens.set(id, list);
    waiters.get(`${id}#${list.length}`)?.();
    if (mode === 'flaky-park') throw new Flaky('not now');
    return { parked: true }; // ignored: the state waits for the token
  }
  if (handlerFile === 'Work') {
    calls.Work.set(id, (calls.Work.get(id) ?? 0) + 1);
    if (mode === 'fail-work') throw new Error('kaputt');
    if (mode === 'fatal-work') throw new Fatal('cannot continue');
    return { worked: id };
  }
  throw new Error(`unexpected handler ${handlerFile}`);
}

let runtime: LocalStepFunctions;
let server: LocalSfnServer;
let sfn: SFNClient;
const statusChanges: ExecutionDescription[] = [];

beforeAll(async () => {
  // Retries of 1 s and 2 s become 10 ms and 20 ms; backoff is kept.
  process.env.SFN_RETRY_SCALE = '0.01';
  try {
    runtime = new LocalStepFunctions({ definition: DEFINITION, stateMachineArn: STATE_MACHINE_ARN, invoke });
  } finally {
    delete process.env.SFN_RETRY_SCALE;
  }
  runtime.onStatusChange((description) => {
    statusChanges.push(description);
  });
  server = await startLocalSfnServer(runtime, { port: 0 });
  // The same wiring the lambdas get: only the endpoint variable, any credentials.
  process.env.AWS_ENDPOINT_URL_SFN = server.endpoint;
  sfn = new SFNClient({ region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
});

afterAll(async () => {
  runtime?.close();
  await server?.stop();
  delete process.env.AWS_ENDPOINT_URL_SFN;
});

const start = async (job: Input) => {
  const { executionArn } = await sfn.send(
    new StartExecutionCommand({ stateMachineArn: STATE_MACHINE_ARN, name: job.id, input: input(job) }),
  );
  return executionArn as string;
};
const settled = async (executionArn: string) => {
  await runtime.whenDone(executionArn);
  return sfn.send(new DescribeExecutionCommand({ executionArn }));
};
const output = (description: { output?: string }) => JSON.parse(description.output ?? 'null');
const errorName = (promise: Promise<unknown>) =>
  promise.then(
    () => 'no error',
    (error: Error) => error.name,
  );

describe('local Step Functions over the real SDK', () => {
  it('resumes a waitForTaskToken task on SendTaskSuccess and runs the next Lambda task', async () => {
    const executionArn = await start({ id: 'resume' });
    expect(executionArn).toBe('arn:aws:states:us-east-1:000000000000:execution:test-jobs:resume');
    const token = await parked('resume');
    const running = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(running.status).toBe('RUNNING');
    expect(running.startDate).toBeInstanceOf(Date);
    expect(running.stopDate).toBeUndefined();

    await sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify({ slot: 'A' }) }));
    const done = await settled(executionArn);
    expect(done.status).toBe('SUCCEEDED');
    expect(done.stopDate).toBeInstanceOf(Date);
    expect(done.input).toBe(input({ id: 'resume' }));
    expect(output(done)).toEqual({ id: 'resume', mode: 'ok', timeout: 30, grant: { slot: 'A' }, work: { out: { worked: 'resume' } } });
    expect(statusChanges.find((d) => d.executionArn === executionArn)?.status).toBe('SUCCEEDED');
  });

  it('routes SendTaskFailure to the Catch that names its error, with error and cause as given', async () => {
    const finishedArn = await start({ id: 'fail-finished' });
    await sfn.send(new SendTaskFailureCommand({ taskToken: await parked('fail-finished'), error: 'JobFinished', cause: 'cancelled' }));
    expect(output(await settled(finishedArn))).toMatchObject({ finished: 'finished' });

    const otherArn = await start({ id: 'fail-other' });
    await sfn.send(
      new SendTaskFailureCommand({ taskToken: await parked('fail-other'), error: 'ProviderFailed', cause: '{"errorMessage":"bad image"}' }),
    );
    expect(output(await settled(otherArn))).toEqual({
      failure: { Error: 'ProviderFailed', Cause: '{"errorMessage":"bad image"}' },
      outcome: 'failed',
    });
  });

  it("passes a handler's error through Retry (by its name) and then Catch, with Lambda's Cause shape", async () => {
    const executionArn = await start({ id: 'work-error', mode: 'fail-work' });
    await sfn.send(new SendTaskSuccessCommand({ taskToken: await parked('work-error'), output: '{}' }));
    const done = await settled(executionArn);
    expect(done.status).toBe('SUCCEEDED');
    expect(output(done)).toEqual({
      failure: { Error: 'Error', Cause: JSON.stringify({ errorType: 'Error', errorMessage: 'kaputt' }) },
      outcome: 'failed',
    });
    expect(calls.Work.get('work-error')).toBe(3); // 1 + MaxAttempts 2
    const retried = runtime.history(executionArn).filter((e) => e.type === 'StateRetried');
    expect(retried).toHaveLength(2);
  });

  it('fails a callback task when its handler throws, retries with a FRESH token, then catches', async () => {
    const executionArn = await start({ id: 'flaky', mode: 'flaky-park' });
    const done = await settled(executionArn);
    expect(output(done)).toEqual({
      failure: { Error: 'Flaky', Cause: JSON.stringify({ errorType: 'Flaky', errorMessage: 'not now' }) },
      outcome: 'failed',
    });
    const minted = tokens.get('flaky') ?? [];
    expect(minted).toHaveLength(3);
    expect(new Set(minted).size).toBe(3);
    for (const token of minted) {
      expect(await errorName(sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' })))).toBe('TaskTimedOut');
    }
  });

  it('ends the execution FAILED at a Fail state, with its Error and no Cause', async () => {
    const executionArn = await start({ id: 'fatal', mode: 'fatal-work' });
    await sfn.send(new SendTaskSuccessCommand({ taskToken: await parked('fatal'), output: '{}' }));
    const done = await settled(executionArn);
    expect(done.status).toBe('FAILED');
    expect(done.error).toBe('Fatal');
    expect(done.cause).toBeUndefined();
    expect(done.output).toBeUndefined();
    expect(statusChanges.find((d) => d.executionArn === executionArn)).toMatchObject({ status: 'FAILED', error: 'Fatal' });
  });

  it('times a callback task out after TimeoutSecondsPath with States.Timeout, caught by States.ALL; the token is then closed', async () => {
    const executionArn = await start({ id: 'timeout', timeout: 1 });
    const token = await parked('timeout');
    const began = Date.now();
    const late = await parked('timeout', 2); // States.ALL caught it; Triage led to the Late callback: still RUNNING
    expect(Date.now() - began).toBeGreaterThanOrEqual(900);
    expect(late).not.toBe(token);
    expect(await errorName(sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' })))).toBe('TaskTimedOut');
    expect((await sfn.send(new DescribeExecutionCommand({ executionArn }))).status).toBe('RUNNING');
    await sfn.send(new SendTaskSuccessCommand({ taskToken: late, output: '{}' }));
    const done = await settled(executionArn);
    expect(output(done)).toMatchObject({ failure: { Error: 'States.Timeout' }, outcome: 'failed' });
    const failed = runtime.history(executionArn).find((e) => e.type === 'StateFailed');
    expect(failed).toMatchObject({ state: { name: 'Park' }, Error: 'States.Timeout' });
  });

  it('aborts a parked execution on StopExecution; its token then answers TaskTimedOut', async () => {
    const executionArn = await start({ id: 'stop' });
    const token = await parked('stop');
    const { stopDate } = await sfn.send(new StopExecutionCommand({ executionArn, cause: 'cancelled by user' }));
    expect(stopDate).toBeInstanceOf(Date);
    const stopped = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    expect(stopped).toMatchObject({ status: 'ABORTED', cause: 'cancelled by user' });
    expect(stopped.stopDate).toBeInstanceOf(Date);
    expect(await errorName(sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' })))).toBe('TaskTimedOut');
    await runtime.whenDone(executionArn);
    expect(runtime.history(executionArn).at(-1)?.type).toBe('ExecutionAborted');
    expect(calls.Work.get('stop')).toBeUndefined();
    expect(statusChanges.find((d) => d.executionArn === executionArn)?.status).toBe('ABORTED');
    // Stopping again changes nothing; an unknown execution is ExecutionDoesNotExist.
    expect((await sfn.send(new DescribeExecutionCommand({ executionArn }))).status).toBe('ABORTED');
    const missing = executionArn.replace(/:stop$/, ':nobody');
    expect(await errorName(sfn.send(new StopExecutionCommand({ executionArn: missing })))).toBe('ExecutionDoesNotExist');
    expect(await errorName(sfn.send(new DescribeExecutionCommand({ executionArn: missing })))).toBe('ExecutionDoesNotExist');
  });

  it('answers TaskTimedOut to a second SendTaskSuccess on the same token, InvalidToken to a made-up one', async () => {
    const executionArn = await start({ id: 'twice' });
    const token = await parked('twice');
    await sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' }));
    expect(await errorName(sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{}' })))).toBe('TaskTimedOut');
    expect(await errorName(sfn.send(new SendTaskFailureCommand({ taskToken: token, error: 'X' })))).toBe('TaskTimedOut');
    expect((await settled(executionArn)).status).toBe('SUCCEEDED');
    expect(await errorName(sfn.send(new SendTaskSuccessCommand({ taskToken: 'not-a-token', output: '{}' })))).toBe('InvalidToken');
    expect(await errorName(sfn.send(new SendTaskSuccessCommand({ taskToken: `AQ${'x'.repeat(64)}`, output: '{}' })))).toBe('InvalidToken');
  });

  it('refuses SendTaskSuccess output that is not JSON and keeps the task open', async () => {
    const executionArn = await start({ id: 'bad-output' });
    const token = await parked('bad-output');
    expect(await errorName(sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '{nope' })))).toBe('InvalidOutput');
    await sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: '"ok"' }));
    expect(output(await settled(executionArn))).toMatchObject({ grant: 'ok' });
  });

  it('is idempotent on StartExecution: same name + input while RUNNING returns the same execution', async () => {
    const first = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: STATE_MACHINE_ARN, name: 'idem', input: input({ id: 'idem' }) }),
    );
    const again = await sfn.send(
      new StartExecutionCommand({ stateMachineArn: STATE_MACHINE_ARN, name: 'idem', input: input({ id: 'idem' }) }),
    );
    expect(again.executionArn).toBe(first.executionArn);
    expect(again.startDate?.getTime()).toBe(first.startDate?.getTime());
    const different = sfn.send(
      new StartExecutionCommand({ stateMachineArn: STATE_MACHINE_ARN, name: 'idem', input: input({ id: 'idem', mode: 'x' }) }),
    );
    expect(await errorName(different)).toBe('ExecutionAlreadyExists');
    expect(tokens.get('idem')).toHaveLength(1);

    await sfn.send(new SendTaskSuccessCommand({ taskToken: await parked('idem'), output: '{}' }));
    await settled(first.executionArn as string);
    const afterwards = sfn.send(
      new StartExecutionCommand({ stateMachineArn: STATE_MACHINE_ARN, name: 'idem', input: input({ id: 'idem' }) }),
    );
    expect(await errorName(afterwards)).toBe('ExecutionAlreadyExists');

    const wrongMachine = sfn.send(new StartExecutionCommand({ stateMachineArn: `${STATE_MACHINE_ARN}-other`, name: 'x', input: '{}' }));
    expect(await errorName(wrongMachine)).toBe('StateMachineDoesNotExist');
    expect(
      await errorName(sfn.send(new StartExecutionCommand({ stateMachineArn: STATE_MACHINE_ARN, name: 'has space', input: '{}' }))),
    ).toBe('InvalidName');
    expect(await errorName(sfn.send(new StartExecutionCommand({ stateMachineArn: STATE_MACHINE_ARN, name: 'bad-json', input: '{' })))).toBe(
      'InvalidExecutionInput',
    );
  });

  it('runs 50 concurrent executions parked on tokens and completes all of them when released in order', async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `bulk-${String(i).padStart(2, '0')}`);
    const arns = await Promise.all(ids.map((id) => start({ id })));
    const parkedTokens = await Promise.all(ids.map((id) => parked(id)));
    const running = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: STATE_MACHINE_ARN, statusFilter: 'RUNNING', maxResults: 1000 }),
    );
    expect(running.executions?.filter((e) => e.name?.startsWith('bulk-'))).toHaveLength(50);

    for (const [i, token] of parkedTokens.entries()) {
      await sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify({ order: i }) }));
    }
    const done = await Promise.all(arns.map((arn) => settled(arn)));
    done.forEach((description, i) => {
      expect(description.status).toBe('SUCCEEDED');
      expect(output(description)).toMatchObject({ id: ids[i], grant: { order: i }, work: { out: { worked: ids[i] } } });
    });
    const succeeded = await sfn.send(
      new ListExecutionsCommand({ stateMachineArn: STATE_MACHINE_ARN, statusFilter: 'SUCCEEDED', maxResults: 1000 }),
    );
    expect(succeeded.executions?.filter((e) => e.name?.startsWith('bulk-'))).toHaveLength(50);
    // State transitions per execution, as a benchmark would count them: Park, Work, Done.
    expect(runtime.history(arns[0] as string).filter((e) => e.type === 'StateEntered')).toHaveLength(3);
  });
});

describe('the synthesized Ghostless state machine', () => {
  it('maps every Task state to a handler file that exists and runs in the local interpreter', async () => {
    const started = performance.now();
    const { definition, stateMachineArn, handlers } = extractStateMachine(await synthesizeTemplate());
    const synthMs = performance.now() - started;
    expect(stateMachineArn).toBe('arn:aws:states:us-east-1:000000000000:stateMachine:Ghostless-jobs');
    expect(findUnsupported(definition)).toEqual([]);

    const states = Object.entries(
      definition.States as Record<string, { Type: string; Resource?: string; Parameters?: { FunctionName?: string } }>,
    );
    const tasks = states.filter(([, state]) => state.Type === 'Task');
    expect(tasks.map(([name]) => name).sort()).toEqual([
      'CollectOutputs',
      'Finalize',
      'FinalizeFailure',
      'RunOnProvider',
      'StageInputs',
      'WaitForSlot',
    ]);
    const mapped: Record<string, string> = {};
    for (const [name, state] of tasks) {
      expect(isLambdaInvoke(state.Resource), name).toBe(true);
      const handler = handlers[state.Parameters?.FunctionName ?? ''];
      expect(handler, `${name} → ${state.Parameters?.FunctionName}`).toBeDefined();
      expect(existsSync(path.join(REPO_ROOT, 'lambdas', 'handlers', `${handler}.ts`)), `${handler}.ts`).toBe(true);
      mapped[name] = handler as string;
    }
    expect(mapped).toEqual({
      WaitForSlot: 'wait-for-slot',
      StageInputs: 'stage-inputs',
      RunOnProvider: 'run-on-provider',
      CollectOutputs: 'collect-outputs',
      Finalize: 'finalize',
      FinalizeFailure: 'finalize',
    });
    expect(JSON.stringify(definition)).not.toMatch(/Fn::|"Ref"|\$\{Token/);

    // Full happy paths through the real definition with stub handlers: `j` gets its slot at once; `k`, next in line,
    // is first woken to stage its inputs, and parks again for the 30 s StageInputs says are left of its queue timeout.
    const invoked: Record<string, string[]> = { j: [], k: [] };
    const parkedFor: number[] = [];
    const real: LocalStepFunctions = new LocalStepFunctions({
      definition,
      stateMachineArn,
      handlers,
      invoke: async (file, payload) => {
        const { jobId, taskToken } = payload as { jobId: 'j' | 'k'; taskToken?: string };
        invoked[jobId]?.push(file);
        const stage = jobId === 'k' && file === 'wait-for-slot' && invoked.k?.length === 1;
        if (taskToken) setImmediate(() => real.sendTaskSuccess(taskToken, JSON.stringify(stage ? { stage: true } : {})));
        if (file === 'stage-inputs') return { queueTimeoutSeconds: 30 };
        return file === 'collect-outputs' ? [{ key: `outputs/${jobId}/1.png` }] : null;
      },
    });
    for (const name of ['j', 'k']) {
      const { executionArn } = real.startExecution({
        name,
        input: JSON.stringify({ jobId: name, queueTimeoutSeconds: 60, runTimeoutSeconds: 60 }),
      });
      const done = await real.whenDone(executionArn);
      expect(done.status).toBe('SUCCEEDED');
      expect(JSON.parse(done.output ?? '{}').collected).toEqual({ outputs: [{ key: `outputs/${name}/1.png` }] });
      parkedFor.push(JSON.parse(done.output ?? '{}').queueTimeoutSeconds);
    }
    expect(invoked.j).toEqual(['wait-for-slot', 'run-on-provider', 'collect-outputs', 'finalize']);
    expect(invoked.k).toEqual(['wait-for-slot', 'stage-inputs', 'wait-for-slot', 'run-on-provider', 'collect-outputs', 'finalize']);
    expect(parkedFor).toEqual([60, 30]);
    console.info(`synthesized GhostlessStack in-process in ${Math.round(synthMs)} ms`);
  });
});
