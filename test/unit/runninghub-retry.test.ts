import { afterEach, describe, expect, it, vi } from 'vitest';
import { backoffMs, transientError, withRetries } from '../../lambdas/adapters/retry';
import { RunningHubProvider } from '../../lambdas/adapters/runninghub';
import { parseWorkflowMap } from '../../lambdas/adapters/runninghub-workflows';
import { ProviderBusy, ProviderFailed, ProviderOutcomeUnknown, ProviderUnavailable } from '../../lambdas/domain/errors';
import { BUNDLED_WORKFLOW_MAP_JSON } from '../../local/provider/workflows';
import * as docs from '../fixtures/runninghub/docs';

const json = (body: unknown) => Response.json(body);
const request = { tool: 'upscale-image' as const, params: {}, files: { image: 'api/a.png' }, webhookUrl: 'https://app.test/hook' };

/** A provider answering each call with the next of `answers` (a Response, or an Error to throw); records the pauses. */
function scripted(answers: (Response | Error)[]) {
  const pauses: number[] = [];
  const paths: string[] = [];
  const fetch = (async (input: string | URL | Request) => {
    paths.push(new URL(String(input)).pathname);
    const next = answers.shift();
    if (!next) throw new Error('no more answers');
    if (next instanceof Error) throw next;
    return next;
  }) as typeof globalThis.fetch;
  const provider = new RunningHubProvider({
    baseUrl: 'https://rh.test',
    apiKey: 'key-0123',
    workflows: parseWorkflowMap(BUNDLED_WORKFLOW_MAP_JSON),
    fetch,
    clock: { sleep: async (ms) => void pauses.push(ms), random: () => 0.999 },
  });
  return { provider, pauses, paths };
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('create', () => {
  it.each([
    ['code 500', json({ code: 500, msg: 'UNKNOWN_ERROR', data: null })],
    ['code 808', json({ code: 808, msg: 'APIKEY_UPLOAD_FAILED', data: null })],
    ['HTTP 502', new Response('bad gateway', { status: 502 })],
    ['a network error', new TypeError('fetch failed')],
    ['a timeout', new DOMException('The operation was aborted due to timeout', 'TimeoutError')],
  ])('retries %s and returns the task of the next try', async (_name, failure) => {
    const { provider, paths } = scripted([failure, json(docs.CREATE_ANSWER)]);
    expect(await provider.createTask(request)).toEqual({ taskId: docs.CREATE_ANSWER.data.taskId });
    expect(paths).toEqual(['/task/openapi/create', '/task/openapi/create']);
  });

  it('gives up after three refusals (500), with growing jittered pauses, as ProviderUnavailable: no task exists', async () => {
    const fail = () => json({ code: 500, msg: 'UNKNOWN_ERROR', data: null });
    const { provider, pauses, paths } = scripted([fail(), fail(), fail(), json(docs.CREATE_ANSWER)]);
    const error = await provider.createTask(request).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(ProviderUnavailable);
    expect((error as Error).message).toBe('RunningHub create: 500 UNKNOWN_ERROR');
    expect(paths).toHaveLength(3);
    // random() = 0.999 of min(cap 4000, 500·2^n): the longest pause each step may take.
    expect(pauses).toEqual([499, 999]);
  });

  it.each([
    ['a timeout', new DOMException('The operation was aborted due to timeout', 'TimeoutError')],
    ['a network error', new TypeError('fetch failed')],
    ['HTTP 502', new Response('bad gateway', { status: 502 })],
  ])('gives up as ProviderOutcomeUnknown when one try ended in %s: a task may exist', async (_name, unknown) => {
    const fail = () => json({ code: 500, msg: 'UNKNOWN_ERROR', data: null });
    const { provider } = scripted([fail(), unknown, fail()]);
    const error = await provider.createTask(request).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(ProviderOutcomeUnknown);
    expect([ProviderUnavailable, ProviderBusy, ProviderFailed].some((kind) => error instanceof kind)).toBe(false);
  });

  it.each([
    ['421', docs.CREATE_QUEUE_MAXED, ProviderBusy],
    ['415', docs.CREATE_INSTANCE_MAXED, ProviderBusy],
    ['803', docs.CREATE_NODE_MISMATCH, ProviderFailed],
  ])('does not retry %s: the queue (or nobody) deals with it', async (_code, answer, kind) => {
    const { provider, paths } = scripted([json(answer), json(docs.CREATE_ANSWER)]);
    await expect(provider.createTask(request)).rejects.toBeInstanceOf(kind);
    expect(paths).toHaveLength(1);
  });

  it("waits 30 s for create, as RunningHub's own ComfyUI plugin does, and 15 s for other calls", async () => {
    const timeout = vi.spyOn(AbortSignal, 'timeout');
    const { provider } = scripted([json(docs.CREATE_ANSWER), json(docs.OUTPUTS_RUNNING)]);
    await provider.createTask(request);
    expect(timeout).toHaveBeenLastCalledWith(30_000);
    await provider.outputs('1');
    expect(timeout).toHaveBeenLastCalledWith(15_000);
  });
});

describe('outputs and cancel', () => {
  it('retry a network blip', async () => {
    const { provider } = scripted([
      new TypeError('fetch failed'),
      json(docs.OUTPUTS_SUCCESS),
      new TypeError('socket hang up'),
      json(docs.CANCEL_ANSWER),
    ]);
    expect((await provider.outputs('1')).status).toBe('succeeded');
    await expect(provider.cancel('1')).resolves.toBeUndefined();
  });

  it('stop after four tries', async () => {
    const blip = () => new TypeError('fetch failed');
    const { provider, paths } = scripted([blip(), blip(), blip(), blip(), json(docs.OUTPUTS_SUCCESS)]);
    await expect(provider.outputs('1')).rejects.toThrow('RunningHub outputs: fetch failed');
    expect(paths).toHaveLength(4);
  });
});

describe('withRetries', () => {
  it('does not retry an error not marked transient', async () => {
    let tries = 0;
    const run = async () => {
      tries++;
      throw new Error('a bug');
    };
    await expect(withRetries({ attempts: 5, baseMs: 1, capMs: 1 }, { sleep: async () => {}, random: () => 0 }, run)).rejects.toThrow(
      'a bug',
    );
    expect(tries).toBe(1);
  });

  it('draws each pause uniformly below the capped exponential (full jitter)', () => {
    const policy = { attempts: 9, baseMs: 100, capMs: 1000 };
    expect([1, 2, 3, 4, 5].map((attempt) => backoffMs(policy, attempt, 0.5))).toEqual([50, 100, 200, 400, 500]);
    expect(backoffMs(policy, 3, 0)).toBe(0);
    expect(transientError('x')).toBeInstanceOf(Error);
  });
});
