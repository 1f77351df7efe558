import { describe, expect, it } from 'vitest';
import { S3Files } from '../../lambdas/adapters/s3-files';
import { jobFailureOf } from '../../lambdas/adapters/step-failure';
import { ProviderBusy, ProviderOutcomeUnknown, ProviderUnavailable } from '../../lambdas/domain/errors';
import { healing } from '../../lambdas/domain/healing';
import { lifecycle } from '../../lambdas/domain/lifecycle';
import type { Provider, ProviderTaskRequest, Workflow } from '../../lambdas/domain/ports';
import { BUSY_HOLD_MS } from '../../lambdas/domain/queue';
import { newUser, submit, testStack } from '../support/emulator-stack';
import { image } from '../support/media';

/**
 * lifecycle.startRun and the provider webhook against the real job store, with a scripted provider: the
 * creating marker, adoption of a task whose create answer was lost, cancellation of tasks no live job owns,
 * inputs staged once per job, and an outputs blip after create.
 */

// Room for every test's job to run at once: each test leaves its job as it is.
const stack = await testStack({ maxRunning: 50 });
const { store, credits, queue } = stack.services;

interface Script {
  create?: (request: ProviderTaskRequest) => Promise<{ taskId: string }>;
  outputs?: () => Promise<Awaited<ReturnType<Provider['outputs']>>>;
  /** The lifecycle's clock (default: the real one). */
  now?: () => Date;
}

/** A running job and a lifecycle whose provider follows `script` and records what it was asked. */
async function running(script: Script = {}, jobStore: typeof store = store) {
  const userId = newUser();
  await credits.setBalance(userId, 10);
  const { jobId } = await submit(stack, userId, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: await image() }]);
  await queue.grantNext();
  const seen = {
    staged: 0,
    created: [] as ProviderTaskRequest[],
    cancelled: [] as string[],
    resumed: [] as unknown[],
    failed: [] as string[],
    causes: [] as string[],
  };
  const provider: Provider = {
    stageInputs: async (inputs) => {
      seen.staged++;
      return Object.fromEntries(inputs.map((input) => [input.slot, `api/${input.slot}-${seen.staged}.png`]));
    },
    createTask: async (request) => {
      seen.created.push(request);
      return script.create ? script.create(request) : { taskId: `task-${seen.created.length}` };
    },
    outputs: script.outputs ?? (async () => ({ status: 'running' })),
    cancel: async (taskId) => void seen.cancelled.push(taskId),
  };
  const workflow: Workflow = {
    start: async () => {},
    resume: async (token, output) => void seen.resumed.push({ token, output }),
    fail: async (token, error, cause) => {
      seen.failed.push(`${token}:${error}`);
      seen.causes.push(cause);
    },
    stop: async () => {},
    status: async () => 'RUNNING',
  };
  const files = new S3Files(stack.s3, stack.s3, stack.config.bucketName, () => null);
  const life = lifecycle({
    store: jobStore,
    files,
    provider,
    workflow,
    queue,
    clock: { now: script.now ?? (() => new Date()) },
    callbackBaseUrl: 'https://app.test',
    log: () => {},
    countOutcome: () => {},
  });
  const secretOf = (request: ProviderTaskRequest | undefined) => new URL(request?.webhookUrl ?? 'x:').searchParams.get('secret') ?? '';
  return { userId, jobId, life, provider, workflow, seen, secretOf, job: () => store.getJob(jobId) };
}

const lost = () => Promise.reject(new ProviderOutcomeUnknown('RunningHub create: timed out'));

describe('a task whose create answer was lost', () => {
  it('is adopted by its webhook while the job runs, and the execution resumes', async () => {
    const run = await running({ create: lost });
    // No answer: the job keeps waiting (RunOnProvider stays parked) instead of failing.
    await expect(run.life.startRun(run.jobId, 'token-1')).resolves.toBeUndefined();
    expect(await run.job()).toMatchObject({ status: 'running', runToken: 'token-1', creatingAt: expect.any(String) });
    expect((await run.job())?.providerTaskId).toBeUndefined();

    const reply = await run.life.onProviderCallback(run.jobId, run.secretOf(run.seen.created[0]), { event: 'TASK_END', taskId: '777' });
    expect(reply).toEqual({ accepted: true });
    expect((await run.job())?.providerTaskId).toBe('777');
    expect(run.seen.resumed).toEqual([{ token: 'token-1', output: { taskId: '777' } }]);
    expect(run.seen.cancelled).toEqual([]);
  });

  it('is cancelled when its job has ended', async () => {
    const run = await running({ create: lost });
    // No answer: the job keeps waiting (RunOnProvider stays parked) instead of failing.
    await expect(run.life.startRun(run.jobId, 'token-1')).resolves.toBeUndefined();
    await run.life.fail(run.jobId, { kind: 'internal' });
    const reply = await run.life.onProviderCallback(run.jobId, run.secretOf(run.seen.created[0]), { event: 'TASK_END', taskId: '778' });
    expect(reply).toEqual({ accepted: false });
    expect(run.seen.cancelled).toEqual(['778']);
    expect(run.seen.resumed).toEqual([]);
  });

  it('is cancelled when the job already runs another task (a create retried after a lost answer)', async () => {
    const run = await running();
    await run.life.startRun(run.jobId, 'token-1');
    expect((await run.job())?.providerTaskId).toBe('task-1');
    const reply = await run.life.onProviderCallback(run.jobId, run.secretOf(run.seen.created[0]), { event: 'TASK_END', taskId: '779' });
    expect(reply).toEqual({ accepted: false });
    expect(run.seen.cancelled).toEqual(['779']);
  });

  it('is refused without the secret', async () => {
    const run = await running({ create: lost });
    await run.life.startRun(run.jobId, 'token-1');
    await expect(run.life.onProviderCallback(run.jobId, 'forged', { taskId: '780' })).rejects.toThrow('No task waits');
    expect((await run.job())?.providerTaskId).toBeUndefined();
  });
});

describe('startRun', () => {
  it('records the secret and the creating marker before calling create', async () => {
    let atCreate: Awaited<ReturnType<typeof store.getJob>> = null;
    const run = await running({
      create: async () => {
        atCreate = await store.getJob(run.jobId);
        return { taskId: '900' };
      },
    });
    await run.life.startRun(run.jobId, 'token-1');
    expect(atCreate).toMatchObject({ runToken: 'token-1', callbackSecretHash: expect.any(String), creatingAt: expect.any(String) });
    expect(await run.job()).toMatchObject({ providerTaskId: '900' });
    expect((await run.job())?.creatingAt).toBeUndefined();
  });

  it('records a created task even when the first writes of its id fail', async () => {
    let failures = 2;
    const flaky = Object.create(store) as typeof store;
    flaky.adoptTask = async (jobId, taskId) => {
      if (failures-- > 0) throw new Error('ThrottlingException');
      return store.adoptTask(jobId, taskId);
    };
    const run = await running({}, flaky);
    await run.life.startRun(run.jobId, 'token-1');
    expect(await run.job()).toMatchObject({ status: 'running', providerTaskId: 'task-1' });
    expect(run.seen.cancelled).toEqual([]);
  });

  it('puts the job back at the head of the queue when the provider refused for now (500 on every try), keeping the slot count', async () => {
    const run = await running({ create: () => Promise.reject(new ProviderUnavailable('RunningHub create: 500 Injected')) });
    const before = await store.providerCapacity();
    await run.life.startRun(run.jobId, 'token-1');
    expect(run.seen.failed).toEqual(['token-1:Requeued']);
    expect(await run.job()).toMatchObject({ status: 'queued', refunded: false, providerFiles: { image: 'api/image-1.png' } });
    expect(await store.providerCapacity()).toEqual(before);
    expect(await queue.grantNext()).toBe(1);
    expect((await run.job())?.status).toBe('running');
  });

  it('puts the job back at the head of the queue when the key is full, and reuses its uploads once granted again', async () => {
    let busy = true;
    const run = await running({
      create: async () => {
        if (!busy) return { taskId: '901' };
        busy = false;
        throw new ProviderBusy('RunningHub create: 421 TASK_QUEUE_MAXED');
      },
    });
    const { slot } = (await run.job()) ?? {};
    await run.life.startRun(run.jobId, 'token-1');
    expect(run.seen.failed).toEqual(['token-1:Requeued']);
    const requeued = await run.job();
    expect(requeued).toMatchObject({ status: 'queued', charged: true, refunded: false, providerFiles: { image: 'api/image-1.png' } });
    expect([requeued?.slot, requeued?.runToken, requeued?.creatingAt, requeued?.callbackSecretHash]).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(await store.queueHeads(1)).toEqual([run.jobId]);
    expect(await store.freeSlots(50)).toContain(slot);
    // The key said it is full: its freed slot is not handed straight back, only once the key's answer has aged.
    expect(await queue.grantNext()).toBe(0);
    const deadline = Date.now() + BUSY_HOLD_MS + 3000;
    while ((await run.job())?.status === 'queued' && Date.now() < deadline) {
      await queue.grantNext();
      await new Promise((done) => setTimeout(done, 100));
    }
    expect((await run.job())?.status).toBe('running');
    await run.life.startRun(run.jobId, 'token-2');
    expect(run.seen.staged).toBe(1);
    expect(run.seen.created.map((r) => r.files)).toEqual([{ image: 'api/image-1.png' }, { image: 'api/image-1.png' }]);
    expect(await run.job()).toMatchObject({ providerTaskId: '901', providerFiles: { image: 'api/image-1.png' } });
  });

  /** A running job whose every create the key refuses (421), and `at(ms)`, which sets the lifecycle's clock that long after its admission. */
  async function alwaysRefused() {
    const clock = { now: new Date() };
    const run = await running({
      create: () => Promise.reject(new ProviderBusy('RunningHub create: 421 TASK_QUEUE_MAXED')),
      now: () => clock.now,
    });
    const job = (await run.job()) as NonNullable<Awaited<ReturnType<typeof run.job>>>;
    const at = (offsetMs: number) => {
      clock.now = new Date(Date.parse(job.createdAt) + offsetMs);
    };
    return { run, job, at };
  }

  it('sends a requeued job back with what is left of its queue timeout, counted from its admission', async () => {
    const { run, job, at } = await alwaysRefused();
    at(10_000);
    await run.life.startRun(run.jobId, 'token-1');
    const firstLeft = job.limits.queueSeconds - 10 - BUSY_HOLD_MS / 1000;
    expect(run.seen.causes).toEqual([JSON.stringify({ queueTimeoutSeconds: firstLeft })]);

    // Granted again 30 s after admission and refused again: the wait left shrinks, it does not start afresh.
    await store.noteProviderCapacity(50, new Date(0).toISOString()); // the key's 421 has aged
    expect(await queue.grantNext()).toBeGreaterThanOrEqual(1);
    at(30_000);
    await run.life.startRun(run.jobId, 'token-2');
    expect(run.seen.failed).toEqual(['token-1:Requeued', 'token-2:Requeued']);
    expect(run.seen.causes[1]).toBe(JSON.stringify({ queueTimeoutSeconds: firstLeft - 20 }));
    expect((await run.job())?.status).toBe('queued');
    // Leave the queue as it was for the next test: no job waiting at its head, no key answer holding the slots down.
    await run.life.cancel(run.userId, run.jobId);
    await store.noteProviderCapacity(50, new Date(0).toISOString());
  });

  it('ends a job refused once its queue timeout has passed with QUEUE_TIMEOUT instead of requeueing it again', async () => {
    const { run, job, at } = await alwaysRefused();
    at(job.limits.queueSeconds * 1000);
    await run.life.startRun(run.jobId, 'token-1');
    expect(run.seen.failed).toEqual(['token-1:QueueTimeout']);
    // The state machine's Catch finalizes it: still running, it holds its slot until then.
    expect((await run.job())?.status).toBe('running');
    await run.life.fail(run.jobId, jobFailureOf({ Error: 'QueueTimeout', Cause: run.seen.causes[0] }));
    expect(await run.job()).toMatchObject({ status: 'failed', refunded: true, error: { code: 'QUEUE_TIMEOUT' } });
  });

  it('does not fail the run when the outputs check right after create meets a network blip', async () => {
    const run = await running({ outputs: () => Promise.reject(new Error('RunningHub outputs: fetch failed')) });
    await expect(run.life.startRun(run.jobId, 'token-1')).resolves.toBeUndefined();
    expect(await run.job()).toMatchObject({ status: 'running', providerTaskId: 'task-1' });
    expect([run.seen.failed, run.seen.resumed]).toEqual([[], []]);
  });

  it('resumes at once when the task already ended before its id was recorded', async () => {
    const run = await running({ outputs: async () => ({ status: 'succeeded', outputs: [] }) });
    await run.life.startRun(run.jobId, 'token-1');
    expect(run.seen.resumed).toEqual([{ token: 'token-1', output: { taskId: 'task-1' } }]);
  });

  it('cancels a task created while the job was being cancelled', async () => {
    const run = await running({
      create: async () => {
        await run.life.cancel(run.userId, run.jobId);
        return { taskId: '902' };
      },
    });
    await run.life.startRun(run.jobId, 'token-1');
    expect(run.seen.cancelled).toEqual(['902']);
    expect(run.seen.failed).toEqual(['token-1:JobFinished']);
    expect((await run.job())?.status).toBe('cancelled');
  });
});

describe('healing a job whose task Ghostless already cancelled', () => {
  it('ends HEALED, not PROVIDER_ERROR, when finalizing failed once after the cancel', async () => {
    // The first finalize fails (a DynamoDB 500): the heal is retried after the task was cancelled.
    let failures = 1;
    const flaky = Object.create(store) as typeof store;
    flaky.finalize = async (job, change) => {
      if (failures-- > 0) throw new Error('InternalServerError');
      return store.finalize(job, change);
    };
    const cancelled = new Set<string>();
    const run = await running(
      {
        // As RunningHub answers for a cancelled task: failed.
        outputs: async () => (cancelled.size ? { status: 'failed', reason: 'The task was cancelled' } : { status: 'running' }),
      },
      flaky,
    );
    await run.life.startRun(run.jobId, 'token-1');
    const cancel = run.provider.cancel;
    run.provider.cancel = async (taskId) => {
      cancelled.add(taskId);
      await cancel(taskId);
    };
    const healer = healing({
      store: flaky,
      workflow: run.workflow,
      provider: run.provider,
      lifecycle: run.life,
      queue,
      // Only the sweep re-drives lost admissions; an ended execution never reaches them.
      admission: { onInputStored: () => Promise.reject(new Error('not used when an execution ends')) },
      files: { storedAt: () => Promise.reject(new Error('not used when an execution ends')) },
      clock: { now: () => new Date() },
      graceMs: 0,
      log: () => {},
    });
    await expect(healer.onExecutionEnded(run.jobId)).rejects.toThrow('InternalServerError');
    expect([...cancelled]).toEqual(['task-1']);
    await healer.onExecutionEnded(run.jobId); // Lambda's async retry
    expect((await run.job())?.error?.code).toBe('HEALED');
  });
});
