import { describe, expect, it } from 'vitest';
import {
  buildNodeInfoList,
  businessError,
  describeFailure,
  parseWorkflows,
  RunningHubProvider,
  runningHubOptionsFromEnv,
  WORKFLOW_NODES,
} from '../../lambdas/adapters/runninghub';
import { ProviderBusy, ProviderFailed } from '../../lambdas/domain/errors';

const KEY = 'sk-secret-0123456789abcdef';
const WORKFLOWS = { 'upscale-image': '1904136902449209346', 'upscale-video': '2', 'pose-changer': '3', 'try-on': '4' };

type Handler = (url: string, init: RequestInit | undefined) => Response | Promise<Response>;

/** A provider whose fetch is `handler`; `calls` records each request's URL. */
function providerWith(handler: Handler, options: { uploadLimitBytes?: number; requestTimeoutMs?: number } = {}) {
  const calls: string[] = [];
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    calls.push(url);
    return handler(url, init);
  }) as typeof globalThis.fetch;
  return { provider: new RunningHubProvider({ baseUrl: 'https://rh.test/', apiKey: KEY, workflows: WORKFLOWS, fetch, ...options }), calls };
}

const json = (body: unknown, status = 200) => Response.json(body, { status });
const request = {
  tool: 'upscale-image' as const,
  params: { scale: 4 },
  inputs: [{ slot: 'image', url: 'https://s3.test/in?X-Amz-Signature=abc', contentType: 'image/png' }],
  webhookUrl: 'https://app.test/api/provider/webhook?secret=s',
};

async function caught(promise: Promise<unknown>) {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error as Error,
  );
}

describe('parseWorkflows', () => {
  it('returns the id of every tool from a complete object', () => {
    expect(parseWorkflows(JSON.stringify(WORKFLOWS))).toEqual(WORKFLOWS);
  });

  it('names every missing tool', () => {
    const error = (() => {
      try {
        parseWorkflows('{"upscale-image":"1"}');
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).toMatch(/RUNNINGHUB_WORKFLOWS: missing upscale-video, pose-changer, try-on/);
  });

  it.each([
    ['text that is not JSON', 'upscale-image=1', /not valid JSON/],
    ['an array', '["1"]', /must be a JSON object/],
    ['an unknown tool', JSON.stringify({ ...WORKFLOWS, paint: '5' }), /unknown tool paint/],
    ['an id given as a number', JSON.stringify({ ...WORKFLOWS, 'try-on': 4 }), /try-on must be a string/],
    ['an empty id', JSON.stringify({ ...WORKFLOWS, 'pose-changer': ' ' }), /pose-changer is empty/],
  ])('rejects %s', (_name, input, message) => {
    expect(() => parseWorkflows(input)).toThrow(message);
  });

  it('reads the three environment variables and names the one that is missing', () => {
    const env = { RUNNINGHUB_API_KEY: KEY, RUNNINGHUB_WORKFLOWS: JSON.stringify(WORKFLOWS) };
    expect(runningHubOptionsFromEnv(env)).toEqual({ baseUrl: 'https://www.runninghub.ai', apiKey: KEY, workflows: WORKFLOWS });
    expect(() => runningHubOptionsFromEnv({ RUNNINGHUB_WORKFLOWS: '{}' })).toThrow('RUNNINGHUB_API_KEY');
  });
});

describe('node mapping', () => {
  it('sends the default scale when the job gives none', () => {
    expect(buildNodeInfoList('upscale-image', {}, { image: 'api/a.png' })).toEqual([
      { ...WORKFLOW_NODES['upscale-image'].slots.image, fieldValue: 'api/a.png' },
      { ...WORKFLOW_NODES['upscale-image'].params.scale, fieldValue: 2 },
    ]);
  });

  it('carries both try-on images and the category', () => {
    const list = buildNodeInfoList('try-on', { category: 'bottom' }, { person: 'api/p.png', garment: 'api/g.png' });
    expect(list.map((n) => n.fieldValue)).toEqual(['api/p.png', 'api/g.png', 'bottom']);
    expect(new Set(list.map((n) => n.nodeId)).size).toBe(3);
  });

  it('refuses a task with a missing input slot', () => {
    expect(() => buildNodeInfoList('pose-changer', {}, { person: 'api/p.png' })).toThrow(ProviderFailed);
  });
});

describe('business codes', () => {
  it.each([421, 415])('maps %i to ProviderBusy', (code) => {
    expect(businessError('create', code, 'TASK_QUEUE_MAXED')).toBeInstanceOf(ProviderBusy);
  });

  it.each([301, 416, 433, 802, 803])('maps %i to ProviderFailed with the code and message', (code) => {
    const error = businessError('create', code, 'SOMETHING');
    expect(error).toBeInstanceOf(ProviderFailed);
    expect(error.message).toBe(`RunningHub create: ${code} SOMETHING`);
  });

  it('treats RunningHub 500 UNKNOWN_ERROR as transient', () => {
    const error = businessError('create', 500, 'UNKNOWN_ERROR');
    expect(error).not.toBeInstanceOf(ProviderBusy);
    expect(error).not.toBeInstanceOf(ProviderFailed);
  });

  it('describes a ComfyUI failure by exception and node, and truncates long ones', () => {
    const reason = { exception_type: 'TypeError', exception_message: 'bad input', node_name: 'LoadImage', node_id: '10', traceback: '...' };
    expect(describeFailure(reason, 'x')).toBe('bad input (TypeError in node LoadImage #10)');
    expect(describeFailure({ exception_message: 'bad input' }, 'x')).toBe('bad input');
    expect(describeFailure('out of memory', 'x')).toBe('out of memory');
    expect(describeFailure(null, 'fallback')).toBe('fallback');
    expect(describeFailure('y'.repeat(900), 'x')).toHaveLength(500);
  });
});

describe('RunningHubProvider', () => {
  it('uploads the input, then creates the task with the workflow, node list and webhook', async () => {
    const bodies: unknown[] = [];
    const { provider, calls } = providerWith(async (url, init) => {
      if (url.startsWith('https://s3.test/')) return new Response(new Uint8Array([1, 2, 3]), { headers: { 'content-type': 'image/png' } });
      if (url.endsWith('/upload')) {
        const form = init?.body as FormData;
        bodies.push({ apiKey: form.get('apiKey'), fileType: form.get('fileType'), size: (form.get('file') as Blob).size });
        return json({ code: 0, msg: 'success', data: { fileName: 'api/abc.png', fileType: 'image' } });
      }
      bodies.push(JSON.parse(String(init?.body)));
      return json({ code: 0, msg: 'success', data: { taskId: '1910246754753896450', taskStatus: 'QUEUED' } });
    });
    expect(await provider.createTask(request)).toEqual({ taskId: '1910246754753896450' });
    expect(calls).toEqual([request.inputs[0]?.url, 'https://rh.test/task/openapi/upload', 'https://rh.test/task/openapi/create']);
    expect(bodies).toEqual([
      { apiKey: KEY, fileType: 'image', size: 3 },
      {
        apiKey: KEY,
        workflowId: WORKFLOWS['upscale-image'],
        nodeInfoList: buildNodeInfoList('upscale-image', { scale: 4 }, { image: 'api/abc.png' }),
        webhookUrl: request.webhookUrl,
      },
    ]);
  });

  it('keeps every digit of a task id sent as a JSON number', async () => {
    const { provider } = providerWith((url) => {
      if (url.startsWith('https://s3.test/')) return new Response('x');
      if (url.endsWith('/upload')) return json({ code: 0, data: { fileName: 'api/x.png' } });
      return new Response('{"code":0,"msg":"success","data":{"taskId":1910246754753896450}}');
    });
    expect(await provider.createTask(request)).toEqual({ taskId: '1910246754753896450' });
  });

  it('passes an input larger than the upload limit by URL', async () => {
    let created: { nodeInfoList: { fieldValue: unknown }[] } | undefined;
    const { provider, calls } = providerWith(
      (url, init) => {
        if (url.startsWith('https://s3.test/')) return new Response(new Uint8Array(64), { headers: { 'content-length': '64' } });
        created = JSON.parse(String(init?.body));
        return json({ code: 0, data: { taskId: '7' } });
      },
      { uploadLimitBytes: 10 },
    );
    await provider.createTask(request);
    expect(calls.some((url) => url.endsWith('/upload'))).toBe(false);
    expect(created?.nodeInfoList[0]?.fieldValue).toBe(request.inputs[0]?.url);
  });

  it('fails for good on an unreadable input without revealing its presigned URL', async () => {
    const { provider } = providerWith(() => new Response('denied', { status: 403 }));
    const error = await caught(provider.createTask(request));
    expect(error).toBeInstanceOf(ProviderFailed);
    expect(error.message).toBe('Input "image" could not be read (HTTP 403)');
  });

  it.each([
    ['HTTP 502', () => new Response('bad gateway', { status: 502 }), /HTTP 502/],
    ['a network error', () => Promise.reject(new TypeError('fetch failed')), /fetch failed/],
    ['an answer that is not JSON', () => new Response('<html>'), /not JSON/],
  ])('throws a plain transient error on %s', async (_name, answer, message) => {
    const { provider } = providerWith(answer);
    const error = await caught(provider.outputs('1'));
    expect(error).not.toBeInstanceOf(ProviderBusy);
    expect(error).not.toBeInstanceOf(ProviderFailed);
    expect(error.message).toMatch(message);
  });

  it('gives up on a request that outlives its timeout', async () => {
    const { provider } = providerWith(
      (_url, init) =>
        new Promise((_resolve, reject) => {
          init?.signal?.addEventListener('abort', () => reject(init.signal?.reason));
        }),
      { requestTimeoutMs: 20 },
    );
    const error = await caught(provider.outputs('1'));
    expect(error.message).toBe('RunningHub outputs: timed out');
  });

  it.each([
    [804, 'APIKEY_TASK_IS_RUNNING'],
    [813, 'APIKEY_TASK_IS_QUEUED'],
  ])('reports a task answered with %i as running', async (code, msg) => {
    const { provider } = providerWith(() => json({ code, msg, data: null }));
    expect(await provider.outputs('1')).toEqual({ status: 'running' });
  });

  it('reports the outputs of a finished task', async () => {
    const data = [{ fileUrl: 'https://cdn.test/o.png', fileType: 'png', taskCostTime: '3', consumeCoins: '1', nodeId: '9' }];
    const { provider } = providerWith(() => json({ code: 0, msg: 'success', data }));
    expect(await provider.outputs('1')).toEqual({ status: 'succeeded', outputs: [{ fileUrl: 'https://cdn.test/o.png', fileType: 'png' }] });
  });

  it('reports a failed task with a readable reason', async () => {
    const failedReason = { exception_type: 'RuntimeError', exception_message: 'CUDA out of memory', node_name: 'Upscaler', node_id: '12' };
    const { provider } = providerWith(() => json({ code: 805, msg: 'APIKEY_TASK_STATUS_ERROR', data: { failedReason } }));
    expect(await provider.outputs('1')).toEqual({ status: 'failed', reason: 'CUDA out of memory (RuntimeError in node Upscaler #12)' });
  });

  it('reports a task that finished with no outputs as failed', async () => {
    const { provider } = providerWith(() => json({ code: 0, msg: 'success', data: [] }));
    expect(await provider.outputs('1')).toMatchObject({ status: 'failed' });
  });

  it.each([0, 807, 805])('accepts cancel answered with %i as done', async (code) => {
    const { provider } = providerWith(() => json({ code, msg: 'x', data: null }));
    await expect(provider.cancel('1')).resolves.toBeUndefined();
  });

  it('never puts the API key in an error or in its JSON form', async () => {
    const { provider } = providerWith(() => json({ code: 802, msg: `APIKEY_UNAUTHORIZED ${KEY}`, data: null }));
    const error = await caught(provider.cancel('1'));
    expect(error).toBeInstanceOf(ProviderFailed);
    expect(error.message).toBe('RunningHub cancel: 802 APIKEY_UNAUTHORIZED ***');
    expect(JSON.stringify(provider)).not.toContain(KEY);
  });
});
