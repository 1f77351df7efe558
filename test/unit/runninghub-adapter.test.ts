import { describe, expect, it } from 'vitest';
import { RunningHubProvider } from '../../lambdas/adapters/runninghub';
import { businessError, describeFailure, parseWebhook } from '../../lambdas/adapters/runninghub-protocol';
import { parseWorkflowMap } from '../../lambdas/adapters/runninghub-workflows';
import { InvalidRequest, ProviderBusy, ProviderFailed } from '../../lambdas/domain/errors';
import { BUNDLED_WORKFLOW_MAP_JSON } from '../../local/provider/workflows';
import { candidates, fetchApiFormat } from '../../scripts/provider-inspect';
import * as docs from '../fixtures/runninghub/docs';
import { start } from '../support/provider';

const KEY = 'sk-secret-0123456789abcdef';
const WORKFLOWS = parseWorkflowMap(BUNDLED_WORKFLOW_MAP_JSON);

/** Retries without waiting. */
const NO_WAIT = { sleep: async () => {}, random: () => 0 };

type Handler = (url: string, init: RequestInit | undefined) => Response | Promise<Response>;

/** A provider whose fetch is `handler`; `calls` records each request's URL. */
function providerWith(handler: Handler, options: { uploadLimitBytes?: number; requestTimeoutMs?: number } = {}) {
  const calls: string[] = [];
  const fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input);
    calls.push(url);
    return handler(url, init);
  }) as typeof globalThis.fetch;
  return {
    provider: new RunningHubProvider({ baseUrl: 'https://rh.test/', apiKey: KEY, workflows: WORKFLOWS, fetch, clock: NO_WAIT, ...options }),
    calls,
  };
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
        return json(docs.UPLOAD_ANSWER);
      }
      bodies.push(JSON.parse(String(init?.body)));
      return json(docs.CREATE_ANSWER);
    });
    expect(await start(provider, request)).toEqual({ taskId: docs.CREATE_ANSWER.data.taskId });
    expect(calls).toEqual([request.inputs[0]?.url, 'https://rh.test/task/openapi/upload', 'https://rh.test/task/openapi/create']);
    const fileName = docs.UPLOAD_ANSWER.data.fileName;
    expect(bodies).toEqual([
      { apiKey: KEY, fileType: 'image', size: 3 },
      {
        apiKey: KEY,
        workflowId: '1950000000000000001',
        nodeInfoList: [
          { nodeId: '10', fieldName: 'image', fieldValue: fileName },
          { nodeId: '12', fieldName: 'value', fieldValue: '4' },
        ],
        webhookUrl: request.webhookUrl,
      },
    ]);
    // The documented request's shape: the same keys, node ids and values as strings.
    const created = bodies[1] as typeof docs.CREATE_REQUEST;
    expect(
      Object.keys(created)
        .filter((k) => k !== 'webhookUrl')
        .sort(),
    ).toEqual(Object.keys(docs.CREATE_REQUEST).sort());
    for (const node of created.nodeInfoList) expect(Object.keys(node)).toEqual(Object.keys(docs.CREATE_REQUEST.nodeInfoList[0] ?? {}));
  });

  it('runs a tool mapped to an AI app through ai-app/run with its webappId', async () => {
    let body: Record<string, unknown> = {};
    let path = '';
    const { provider } = providerWith(async (url, init) => {
      if (url.startsWith('https://s3.test/')) return new Response(new Uint8Array([1]), { headers: { 'content-type': 'image/png' } });
      if (url.endsWith('/upload')) return json(docs.UPLOAD_ANSWER);
      path = new URL(url).pathname;
      body = JSON.parse(String(init?.body));
      return json(docs.CREATE_ANSWER);
    });
    const tryOn = {
      ...request,
      tool: 'try-on' as const,
      params: { category: 'full' },
      inputs: [
        { slot: 'person', url: 'https://s3.test/p', contentType: 'image/png' },
        { slot: 'garment', url: 'https://s3.test/g', contentType: 'image/png' },
      ],
    };
    await start(provider, tryOn);
    expect(path).toBe('/task/openapi/ai-app/run');
    expect(Object.keys(body).sort()).toEqual([...Object.keys(docs.AI_APP_REQUEST), 'webhookUrl'].sort());
    expect(body).toMatchObject({ webappId: '1950000000000000004' });
    expect(body.nodeInfoList).toContainEqual({ nodeId: '33', fieldName: 'text', fieldValue: 'full' });
  });

  it('keeps every digit of a task id sent as a JSON number', async () => {
    const { provider } = providerWith((url) => {
      if (url.startsWith('https://s3.test/')) return new Response('x');
      if (url.endsWith('/upload')) return json({ code: 0, data: { fileName: 'api/x.png' } });
      return new Response('{"code":0,"msg":"success","data":{"taskId":1910246754753896450}}');
    });
    expect(await start(provider, request)).toEqual({ taskId: '1910246754753896450' });
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
    await start(provider, request);
    expect(calls.some((url) => url.endsWith('/upload'))).toBe(false);
    expect(created?.nodeInfoList[0]?.fieldValue).toBe(request.inputs[0]?.url);
  });

  it('fails for good on an unreadable input without revealing its presigned URL', async () => {
    const { provider } = providerWith(() => new Response('denied', { status: 403 }));
    const error = await caught(start(provider, request));
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
    ['804', docs.OUTPUTS_RUNNING],
    ['813', docs.OUTPUTS_QUEUED],
  ])('reports a task answered with %s as running', async (_code, answer) => {
    const { provider } = providerWith(() => json(answer));
    expect(await provider.outputs('1')).toEqual({ status: 'running' });
  });

  it('reports the outputs of a finished task (the documented answer)', async () => {
    const { provider } = providerWith(() => json(docs.OUTPUTS_SUCCESS));
    const [item] = docs.OUTPUTS_SUCCESS.data;
    expect(await provider.outputs('1')).toEqual({ status: 'succeeded', outputs: [{ fileUrl: item?.fileUrl, fileType: 'png' }] });
  });

  it('reports a failed task with a readable reason from the string fields of failedReason', async () => {
    const { provider } = providerWith(() => json(docs.OUTPUTS_FAILED));
    expect(await provider.outputs('1')).toEqual({
      status: 'failed',
      reason: 'Allocation on device 0 would exceed allowed memory. (out of memory) (torch.OutOfMemoryError in node ImageScaleBy #12)',
    });
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

describe('parseWebhook', () => {
  it('keeps a 19-digit numeric taskId exact, where JSON.parse would round it to another task', () => {
    const raw =
      '{"event":"TASK_END","taskId":1910246754753896450,"eventData":"{\\"code\\":0,\\"taskId\\":1910246754753896999,\\"data\\":[]}"}';

    expect(String(JSON.parse(raw).taskId)).not.toBe('1910246754753896450');
    expect(parseWebhook(raw)).toMatchObject({ event: 'TASK_END', taskId: '1910246754753896450' });
  });

  it('passes string and small taskIds, and bodies without one, as they are', () => {
    expect(parseWebhook('{"taskId":"1910246754753896450"}')).toEqual({ taskId: '1910246754753896450' });
    expect(parseWebhook('{"taskId":42}')).toEqual({ taskId: '42' });
    expect(parseWebhook('{"event":"TASK_END"}')).toEqual({ event: 'TASK_END' });
    expect(parseWebhook('null')).toBeNull();
  });

  it('turns away a body that is not JSON as a bad request', () => {
    expect(() => parseWebhook('taskId=1')).toThrow(InvalidRequest);
  });
});

describe('the documented examples', () => {
  it('reads the webhook example of the docs, its taskId exact', () => {
    expect(parseWebhook(JSON.stringify(docs.WEBHOOK_BODY))).toMatchObject({ event: 'TASK_END', taskId: docs.WEBHOOK_BODY.taskId });
  });

  it('asks for outputs with exactly the fields of the documented request', async () => {
    const bodies: Record<string, unknown>[] = [];
    const { provider } = providerWith((_url, init) => {
      bodies.push(JSON.parse(String(init?.body)));
      return json(docs.OUTPUTS_SUCCESS);
    });

    await provider.outputs(docs.OUTPUTS_REQUEST.taskId);

    expect(Object.keys(bodies[0] ?? {}).sort()).toEqual(Object.keys(docs.OUTPUTS_REQUEST).sort());
    expect(bodies[0]).toMatchObject({ apiKey: KEY, taskId: docs.OUTPUTS_REQUEST.taskId });
  });

  it('finds the Load Image node and the widgets of the documented getJsonApiFormat example', async () => {
    const prompt = await fetchApiFormat('https://rh.test', KEY, '1', (async () => json(docs.API_FORMAT_ANSWER)) as typeof fetch);
    const found = candidates(prompt);

    expect(found.image.map((c) => [c.nodeId, c.fieldName])).toEqual([['10', 'image']]);
    expect(found.text.map((c) => [c.nodeId, c.fieldName])).toContainEqual(['6', 'text']);
    expect(found.number.map((c) => [c.nodeId, c.fieldName])).toContainEqual(['3', 'seed']);
  });
});
