import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningHubOptions, RunningHubProvider } from '../../lambdas/adapters/runninghub';
import { CODES } from '../../lambdas/adapters/runninghub-protocol';
import { parseWorkflowMap } from '../../lambdas/adapters/runninghub-workflows';
import type { ToolId } from '../../lambdas/domain/catalog';
import { ProviderBusy, ProviderFailed } from '../../lambdas/domain/errors';
import type { ProviderOutcome } from '../../lambdas/domain/ports';
import { type LocalProvider, type LocalProviderOptions, startLocalProvider } from '../../local/provider/server';
import { findFfmpeg } from '../../local/provider/transform';
import { BUNDLED_WORKFLOW_MAP } from '../../local/provider/workflows';
import { candidates, fetchApiFormat, report } from '../../scripts/provider-inspect';
import * as docs from '../fixtures/runninghub/docs';
import { start, type TaskRequest } from '../support/provider';

/** The RunningHub adapter and the local provider, against each other over real HTTP. */

const run = promisify(execFile);
const ffmpeg = await findFfmpeg();
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function listen(server: Server): Promise<string> {
  cleanups.push(() => new Promise((done) => server.close(done)));
  return new Promise((done) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      done(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`);
    });
  });
}

/** Serves test inputs the way a presigned S3 GET does, and counts the downloads of each. */
async function fileServer() {
  const files = new Map<string, { body: Uint8Array; type: string }>();
  const downloads = new Map<string, number>();
  const url = await listen(
    createServer((req, res) => {
      const name = (req.url ?? '').slice(1).split('?')[0] ?? '';
      const file = files.get(name);
      downloads.set(name, (downloads.get(name) ?? 0) + 1);
      if (!file) return res.writeHead(404).end();
      res.writeHead(200, { 'content-type': file.type, 'content-length': file.body.length }).end(file.body);
    }),
  );
  let counter = 0;
  return {
    downloads: (fileUrl: string) => downloads.get(new URL(fileUrl).pathname.slice(1)) ?? 0,
    /** Publishes `body` and returns its URL (with a query, like a presigned one). */
    put(body: Uint8Array, type: string) {
      const name = `input-${++counter}`;
      files.set(name, { body, type });
      return `${url}/${name}?X-Amz-Signature=test`;
    },
  };
}

/** Records every webhook call; answers HTTP 500 to the first `failures` of them. */
async function webhookReceiver() {
  const calls: { path: string; body: { event: string; taskId: string; eventData: string } }[] = [];
  let failures = 0;
  const url = await listen(
    createServer((req, res) => {
      let text = '';
      req.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
      });
      req.on('end', () => {
        calls.push({ path: req.url ?? '', body: JSON.parse(text) });
        if (failures > 0) {
          failures--;
          res.writeHead(500).end();
        } else res.writeHead(200).end('ok');
      });
    }),
  );
  return {
    calls,
    forTask: (taskId: string) => calls.filter((call) => call.body.taskId === taskId),
    failNext(count: number) {
      failures = count;
    },
    url: (name = 'hook') => `${url}/${name}`,
  };
}

async function provider(options: LocalProviderOptions = {}) {
  const local = await startLocalProvider({ latencyMs: 100, webhookRetryDelaysMs: [30, 60], ...options });
  cleanups.push(() => local.stop());
  return local;
}

function clientFor(local: LocalProvider, options: Partial<RunningHubOptions> = {}) {
  const workflows = parseWorkflowMap(JSON.stringify(local.workflows));
  return new RunningHubProvider({ baseUrl: local.url, apiKey: local.apiKey, workflows, ...options });
}

const solid = (width: number, height: number, color: string, format: 'png' | 'jpeg' | 'webp' = 'png') =>
  sharp({ create: { width, height, channels: 3, background: color } })
    .toFormat(format)
    .toBuffer()
    .then((buffer) => new Uint8Array(buffer));

async function pixel(image: Buffer, x: number, y: number) {
  const { data, info } = await sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const offset = (y * info.width + x) * info.channels;
  return [data[offset], data[offset + 1], data[offset + 2]];
}

const near = (actual: (number | undefined)[], expected: number[]) =>
  expected.every((value, i) => Math.abs((actual[i] ?? -999) - value) <= 12);

async function succeeded(outcome: ProviderOutcome) {
  if (outcome.status !== 'succeeded') throw new Error(`expected success, got ${JSON.stringify(outcome)}`);
  const first = outcome.outputs[0];
  if (!first) throw new Error('no output');
  const response = await fetch(first.fileUrl);
  expect(response.status).toBe(200);
  return { output: first, contentType: response.headers.get('content-type'), body: Buffer.from(await response.arrayBuffer()) };
}

const files = await fileServer();
const hooks = await webhookReceiver();
const local = await provider();
const client = clientFor(local);

function request(tool: ToolId, inputs: Record<string, { body: Uint8Array; type: string }>, params = {}): TaskRequest {
  return {
    tool,
    params,
    inputs: Object.entries(inputs).map(([slot, file]) => ({ slot, url: files.put(file.body, file.type), contentType: file.type })),
    webhookUrl: hooks.url(),
  };
}

/** Runs one task to its end on `on` and returns what the adapter reports. */
async function runTask(req: TaskRequest, on = { local, client }) {
  const { taskId } = await start(on.client, req);
  await on.local.ended(taskId);
  return { taskId, outcome: await on.client.outputs(taskId) };
}

describe('upscale-image', () => {
  it.each([
    ['png', 2, 'image/png'],
    ['png', 4, 'image/png'],
    ['jpeg', 2, 'image/jpeg'],
    ['jpeg', 4, 'image/jpeg'],
    ['webp', 2, 'image/webp'],
    ['webp', 4, 'image/webp'],
  ] as const)('turns a 13×7 %s into one exactly %i times as large, served as %s', async (format, scale, type) => {
    const input = await solid(13, 7, '#c82850', format);
    const { outcome } = await runTask(request('upscale-image', { image: { body: input, type } }, { scale }));
    const { body, contentType } = await succeeded(outcome);
    expect(contentType).toBe(type);
    const meta = await sharp(body).metadata();
    expect({ width: meta.width, height: meta.height, format: meta.format }).toEqual({ width: 13 * scale, height: 7 * scale, format });
  });

  it('passes an input above the upload limit by URL, which the provider fetches itself', async () => {
    const big = clientFor(local, { uploadLimitBytes: 16 });
    const req = request('upscale-image', { image: { body: await solid(5, 4, '#2050c8'), type: 'image/png' } }, { scale: 2 });
    const { outcome } = await runTask(req, { local, client: big });
    const meta = await sharp((await succeeded(outcome)).body).metadata();
    expect([meta.width, meta.height]).toEqual([10, 8]);
    expect(files.downloads(req.inputs[0]?.url ?? '')).toBe(2); // the adapter's look, then the provider's download
  });
});

describe('composing tools', () => {
  it('puts the person and the pose side by side for pose-changer', async () => {
    const person = await solid(20, 30, '#ff0000');
    const pose = await solid(10, 15, '#0000ff');
    const { outcome } = await runTask(
      request('pose-changer', { person: { body: person, type: 'image/png' }, pose: { body: pose, type: 'image/png' } }),
    );
    const { body } = await succeeded(outcome);
    const meta = await sharp(body).metadata();
    expect([meta.width, meta.height]).toEqual([40, 30]);
    expect(near(await pixel(body, 5, 15), [255, 0, 0])).toBe(true);
    expect(near(await pixel(body, 30, 15), [0, 0, 255])).toBe(true);
  });

  it('lays the garment over the person for try-on', async () => {
    const person = await solid(40, 60, '#ff0000');
    const garment = await solid(20, 20, '#00ff00', 'jpeg');
    const req = request(
      'try-on',
      { person: { body: person, type: 'image/png' }, garment: { body: garment, type: 'image/jpeg' } },
      { category: 'top' },
    );
    const { body } = await succeeded((await runTask(req)).outcome);
    const meta = await sharp(body).metadata();
    expect([meta.width, meta.height]).toEqual([40, 60]);
    expect(near(await pixel(body, 20, 22), [0, 255, 0])).toBe(true);
    expect(near(await pixel(body, 2, 2), [255, 0, 0])).toBe(true);
    expect(near(await pixel(body, 20, 56), [255, 0, 0])).toBe(true);
  });
});

describe('upscale-video', () => {
  it.skipIf(!ffmpeg)('doubles a real video with ffmpeg', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'provider-video-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const input = join(dir, 'in.mp4');
    await run('ffmpeg', ['-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=32x24:rate=5', '-t', '1', '-pix_fmt', 'yuv420p', input]);
    const { outcome } = await runTask(
      request('upscale-video', { video: { body: await readFile(input), type: 'video/mp4' } }, { scale: 2 }),
    );
    const { body, contentType, output } = await succeeded(outcome);
    expect([contentType, output.fileType]).toEqual(['video/mp4', 'mp4']);
    const out = join(dir, 'out.mp4');
    await writeFile(out, body);
    const probe = await run('ffprobe', [
      '-v',
      'error',
      '-select_streams',
      'v:0',
      '-show_entries',
      'stream=width,height',
      '-of',
      'csv=p=0',
      out,
    ]);
    expect(probe.stdout.trim()).toBe('64,48');
  });

  it('fails clearly when the provider has no ffmpeg', async () => {
    const bare = await provider({ ffmpeg: false });
    const req = request('upscale-video', { video: { body: new Uint8Array(64), type: 'video/mp4' } }, { scale: 2 });
    const { outcome } = await runTask(req, { local: bare, client: clientFor(bare) });
    expect(outcome).toEqual({
      status: 'failed',
      reason: 'ffmpeg is not installed on the local provider (WorkflowError in node Local upscale-video #99)',
    });
  });
});

describe('webhook', () => {
  it('posts TASK_END with the outputs answer as a JSON string', async () => {
    const { taskId } = await runTask(request('upscale-image', { image: { body: await solid(4, 4, '#808080'), type: 'image/png' } }));
    const [call, ...more] = hooks.forTask(taskId);
    expect(more).toEqual([]);
    expect(call?.path).toBe('/hook');
    expect(call?.body).toEqual({ event: 'TASK_END', taskId, eventData: expect.any(String) });
    const eventData = JSON.parse(call?.body.eventData ?? '');
    expect(eventData).toMatchObject({
      code: 0,
      msg: 'success',
      data: [{ fileUrl: expect.stringMatching(`^${local.url}/files/`), fileType: 'png' }],
    });
    const outputs = await fetch(`${local.url}/task/openapi/outputs`, {
      method: 'POST',
      body: JSON.stringify({ apiKey: local.apiKey, taskId }),
    });
    expect(await outputs.json()).toEqual(eventData);
  });

  it('retries a failing receiver and stops once it answers', async () => {
    hooks.failNext(2);
    const { taskId } = await runTask(request('upscale-image', { image: { body: await solid(4, 4, '#808080'), type: 'image/png' } }));
    expect(hooks.forTask(taskId)).toHaveLength(3);
    expect(local.tasks().find((t) => t.taskId === taskId)?.webhook).toMatchObject({ attempts: 3, delivered: true });
  });

  it('gives up after three attempts', async () => {
    hooks.failNext(5);
    const { taskId } = await runTask(request('upscale-image', { image: { body: await solid(4, 4, '#808080'), type: 'image/png' } }));
    expect(hooks.forTask(taskId)).toHaveLength(3);
    expect(local.tasks().find((t) => t.taskId === taskId)?.webhook).toMatchObject({ attempts: 3, delivered: false });
    hooks.failNext(0);
  });
});

describe('errors', () => {
  const image = () => solid(4, 4, '#808080').then((body) => request('upscale-image', { image: { body, type: 'image/png' } }));

  it.each([
    [421, 'TASK_QUEUE_MAXED'],
    [415, 'TASK_INSTANCE_MAXED'],
  ])('turns create answered with %i into ProviderBusy', async (code, name) => {
    local.rejectNextCreate(code);
    const error = await start(client, await image()).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(ProviderBusy);
    expect((error as Error).message).toBe(`RunningHub create: ${code} ${name}`);
  });

  it.each([
    [301, 'PARAMS_INVALID'],
    [416, 'TASK_CREATE_FAILED_BY_NOT_ENOUGH_WALLET'],
    [802, 'APIKEY_UNAUTHORIZED'],
  ])('turns create answered with %i into ProviderFailed', async (code, name) => {
    local.rejectNextCreate(code);
    const error = await start(client, await image()).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(ProviderFailed);
    expect((error as Error).message).toBe(`RunningHub create: ${code} ${name}`);
  });

  it('refuses a wrong API key with 802 and never echoes the key', async () => {
    const wrong = clientFor(local, { apiKey: 'not-the-local-key-123' });
    const error = await start(wrong, await image()).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(ProviderFailed);
    expect((error as Error).message).toBe('RunningHub upload: 802 APIKEY_UNAUTHORIZED');
    await expect(wrong.outputs('1')).rejects.toThrow('RunningHub outputs: 802 APIKEY_UNAUTHORIZED');
  });

  it('refuses an upload over its size limit with 809', async () => {
    const small = await provider({ uploadLimitBytes: 50 });
    const req = request('upscale-image', { image: { body: new Uint8Array(200), type: 'image/png' } });
    await expect(start(clientFor(small), req)).rejects.toThrow(new ProviderFailed('RunningHub upload: 809 APIKEY_FILE_SIZE_EXCEEDED'));
  });

  it('reports every task failed when failRate is 1, in outputs and in the webhook', async () => {
    const failing = await provider({ failRate: 1 });
    const { taskId, outcome } = await runTask(await image(), { local: failing, client: clientFor(failing) });
    expect(outcome).toEqual({ status: 'failed', reason: 'Injected failure (failRate=1) (RuntimeError in node Local upscale-image #99)' });
    const eventData = JSON.parse(hooks.forTask(taskId)[0]?.body.eventData ?? '');
    expect(eventData).toMatchObject({
      code: 805,
      msg: 'APIKEY_TASK_STATUS_ERROR',
      data: { failedReason: { exception_type: 'RuntimeError' } },
    });
  });

  it('fails a task whose input is not an image', async () => {
    const req = request('upscale-image', { image: { body: new TextEncoder().encode('not a picture'), type: 'image/png' } });
    expect((await runTask(req)).outcome).toMatchObject({ status: 'failed', reason: expect.stringContaining('not an image') });
  });
});

describe('running, cancelling and the concurrency limit', () => {
  let slow: LocalProvider;
  let slowClient: RunningHubProvider;
  beforeAll(async () => {
    slow = await provider({ latencyMs: 400 });
    slowClient = clientFor(slow);
  });
  const image = () => solid(4, 4, '#808080').then((body) => request('upscale-image', { image: { body, type: 'image/png' } }));

  it('reports a task that is still working as running', async () => {
    const { taskId } = await start(slowClient, await image());
    expect(await slowClient.outputs(taskId)).toEqual({ status: 'running' });
    await slow.ended(taskId);
    expect((await slowClient.outputs(taskId)).status).toBe('succeeded');
  });

  it('stops a running task on cancel, and no webhook follows', async () => {
    const { taskId } = await start(slowClient, await image());
    await slowClient.cancel(taskId);
    expect(await slowClient.outputs(taskId)).toEqual({
      status: 'failed',
      reason: 'The task was cancelled (InterruptedError in node Local upscale-image #99)',
    });
    await new Promise((done) => setTimeout(done, 900));
    expect(hooks.forTask(taskId)).toEqual([]);
    expect(slow.tasks().find((t) => t.taskId === taskId)).toMatchObject({ status: 'CANCELLED', outputs: [], webhook: { attempts: 0 } });
  });

  it('accepts cancelling a finished task and an unknown one', async () => {
    const { taskId } = await runTask(await image(), { local: slow, client: slowClient });
    await expect(slowClient.cancel(taskId)).resolves.toBeUndefined();
    await expect(slowClient.cancel('1234567890')).resolves.toBeUndefined();
    expect((await slowClient.outputs(taskId)).status).toBe('succeeded');
  });

  it('keeps a hung task running without ever calling back', async () => {
    slow.hangNextTask();
    const { taskId } = await start(slowClient, await image());
    await new Promise((done) => setTimeout(done, 1000));
    expect(await slowClient.outputs(taskId)).toEqual({ status: 'running' });
    expect(hooks.forTask(taskId)).toEqual([]);
    expect(slow.tasks().find((t) => t.taskId === taskId)).toMatchObject({ status: 'RUNNING', hanging: true });
    await slowClient.cancel(taskId);
  });

  it('answers a fourth concurrent create with ProviderBusy and frees the slot on cancel', async () => {
    const taskIds: string[] = [];
    for (let i = 0; i < 3; i++) {
      slow.hangNextTask();
      taskIds.push((await start(slowClient, await image())).taskId);
    }
    await expect(start(slowClient, await image())).rejects.toThrow(new ProviderBusy('RunningHub create: 421 TASK_QUEUE_MAXED'));
    await slowClient.cancel(taskIds[0] ?? '');
    const { taskId } = await start(slowClient, await image());
    await Promise.all([...taskIds.slice(1).map((id) => slowClient.cancel(id)), slow.ended(taskId)]);
    expect(slow.tasks().filter((t) => t.status === 'RUNNING')).toEqual([]);
  });
});

/** POSTs JSON to the local provider the way any RunningHub client would, and returns its envelope. */
async function post(on: LocalProvider, path: string, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  const response = await fetch(`${on.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { code: number; msg: string; data: unknown };
}

async function uploaded(on: LocalProvider) {
  const form = new FormData();
  form.set('apiKey', on.apiKey);
  form.set('fileType', 'image');
  form.set('file', new Blob([await solid(4, 4, '#808080')], { type: 'image/png' }), 'in.png');
  const reply = (await (await fetch(`${on.url}/task/openapi/upload`, { method: 'POST', body: form })).json()) as {
    data: { fileName: string };
  };
  return reply.data.fileName;
}

describe('the public API, as documented', () => {
  const upscale = BUNDLED_WORKFLOW_MAP['upscale-image'];
  const createBody = (on: LocalProvider, fileName: string) => ({
    apiKey: on.apiKey,
    workflowId: upscale.workflowId,
    nodeInfoList: [{ nodeId: upscale.inputs.image.nodeId, fieldName: upscale.inputs.image.fieldName, fieldValue: fileName }],
  });

  it('answers create with QUEUED, then outputs 813 while queued, 804 while running, 0 when done', async () => {
    const paced = await provider({ latencyMs: 300, queueMs: 300 });
    const created = await post(paced, '/task/openapi/create', createBody(paced, await uploaded(paced)));
    const { taskId, taskStatus } = created.data as { taskId: string; taskStatus: string };
    expect([created.code, taskStatus]).toEqual([0, 'QUEUED']);
    expect(taskId).toMatch(/^\d+$/);
    const codes: number[] = [];
    const ended = paced.ended(taskId);
    let done = false;
    void ended.then(() => {
      done = true;
    });
    while (!done) {
      const { code } = await post(paced, '/task/openapi/outputs', { apiKey: paced.apiKey, taskId });
      if (codes.at(-1) !== code) codes.push(code);
      await new Promise((r) => setTimeout(r, 20));
    }
    codes.push((await post(paced, '/task/openapi/outputs', { apiKey: paced.apiKey, taskId })).code);
    expect(codes).toEqual([CODES.APIKEY_TASK_IS_QUEUED, CODES.APIKEY_TASK_IS_RUNNING, CODES.OK]);
  });

  it('sends every failedReason field as a string', async () => {
    const failing = await provider({ failRate: 1 });
    const { taskId } = await runTask(
      await solid(4, 4, '#808080').then((body) => request('upscale-image', { image: { body, type: 'image/png' } })),
      {
        local: failing,
        client: clientFor(failing),
      },
    );
    const answer = await post(failing, '/task/openapi/outputs', { apiKey: failing.apiKey, taskId });
    expect(answer.code).toBe(805);
    const reason = (answer.data as { failedReason: Record<string, unknown> }).failedReason;
    expect(Object.keys(reason).sort()).toEqual([
      'current_inputs',
      'current_outputs',
      'exception_message',
      'exception_type',
      'node_id',
      'node_name',
      'traceback',
    ]);
    for (const value of Object.values(reason)) expect(typeof value).toBe('string');
  });

  it('refuses a file of 30,000,001 bytes (30 MB decimal) with 809', async () => {
    const form = new FormData();
    form.set('apiKey', local.apiKey);
    form.set('file', new Blob([new Uint8Array(30_000_001)], { type: 'image/png' }), 'big.png');
    const reply = await (await fetch(`${local.url}/task/openapi/upload`, { method: 'POST', body: form })).json();
    expect(reply).toMatchObject({ code: docs.UPLOAD_TOO_LARGE.code, msg: docs.UPLOAD_TOO_LARGE.msg });
  });

  it('counts tasks of the key started outside Ghostless: 421 at the limit, and in accountStatus', async () => {
    const shared = await provider({ foreignTasks: 2, maxConcurrent: 3 });
    const status = await post(shared, '/uc/openapi/accountStatus', { apikey: shared.apiKey });
    expect(status).toMatchObject({ code: 0, data: { currentTaskCounts: '2', remainCoins: expect.any(String) } });
    expect(Object.keys(status.data as object).sort()).toEqual(Object.keys(docs.ACCOUNT_STATUS_ANSWER.data).sort());
    shared.hangNextTask();
    const first = await post(shared, '/task/openapi/create', createBody(shared, await uploaded(shared)));
    expect(first.code).toBe(0);
    const second = await post(shared, '/task/openapi/create', createBody(shared, await uploaded(shared)));
    expect(second).toMatchObject({ code: CODES.TASK_QUEUE_MAXED, msg: 'TASK_QUEUE_MAXED' });
    expect((await post(shared, '/uc/openapi/accountStatus', { apikey: shared.apiKey })).data).toMatchObject({ currentTaskCounts: '3' });
    shared.setForeignTasks(0);
    expect((await post(shared, '/task/openapi/create', createBody(shared, await uploaded(shared)))).code).toBe(0);
  });

  it('answers cancel of an ended task with 807', async () => {
    const { taskId } = await runTask(
      await solid(4, 4, '#808080').then((body) => request('upscale-image', { image: { body, type: 'image/png' } })),
    );
    expect(await post(local, '/task/openapi/cancel', { apiKey: local.apiKey, taskId })).toMatchObject({
      code: CODES.APIKEY_TASK_NOT_FOUND,
    });
  });

  it('checks nodeInfoList against its own workflow: 803 on a node or field it lacks, 380 for an unknown workflow', async () => {
    const fileName = await uploaded(local);
    const wrongNode = { ...createBody(local, fileName), nodeInfoList: [{ nodeId: '7', fieldName: 'image', fieldValue: fileName }] };
    const wrongField = { ...createBody(local, fileName), nodeInfoList: [{ nodeId: '10', fieldName: 'picture', fieldValue: fileName }] };
    const link = { ...createBody(local, fileName), nodeInfoList: [{ nodeId: '13', fieldName: 'image', fieldValue: fileName }] };
    for (const body of [wrongNode, wrongField, link]) {
      expect(await post(local, '/task/openapi/create', body)).toMatchObject({ code: CODES.APIKEY_INVALID_NODE_INFO });
    }
    expect(await post(local, '/task/openapi/create', { ...createBody(local, fileName), workflowId: '42' })).toMatchObject({
      code: CODES.WORKFLOW_NOT_EXISTS,
    });
    // An AI app is run through ai-app/run only.
    const tryOn = BUNDLED_WORKFLOW_MAP['try-on'];
    expect(await post(local, '/task/openapi/create', { ...createBody(local, fileName), workflowId: tryOn.webappId })).toMatchObject({
      code: CODES.WORKFLOW_NOT_EXISTS,
    });
  });

  it('makes a client with a wrong map fail with 803, not run the wrong node', async () => {
    const map = structuredClone(BUNDLED_WORKFLOW_MAP);
    map['upscale-image'].inputs.image.nodeId = '11';
    const wrong = new RunningHubProvider({ baseUrl: local.url, apiKey: local.apiKey, workflows: parseWorkflowMap(JSON.stringify(map)) });
    const req = request('upscale-image', { image: { body: await solid(4, 4, '#808080'), type: 'image/png' } });
    await expect(start(wrong, req)).rejects.toThrow(/RunningHub create: 803 .*node 11 \(UpscaleModelLoader\) has no field image/);
  });

  it('accepts the key as Authorization: Bearer instead of apiKey in the body', async () => {
    const bearer = { authorization: `Bearer ${local.apiKey}` };
    expect(await post(local, '/uc/openapi/accountStatus', {}, bearer)).toMatchObject({ code: 0 });
    expect(await post(local, '/task/openapi/outputs', { taskId: '1' }, bearer)).toMatchObject({ code: CODES.APIKEY_TASK_NOT_FOUND });
    expect(await post(local, '/task/openapi/outputs', { taskId: '1' }, { authorization: 'Bearer nope' })).toMatchObject({
      code: CODES.APIKEY_UNAUTHORIZED,
    });
  });

  it('retries the webhook on its slow schedule, scaled by webhookRetryScale', async () => {
    const scaled = await provider({ webhookRetryDelaysMs: undefined, webhookRetryScale: 0.0005 });
    hooks.failNext(10);
    const { taskId } = await runTask(
      await solid(4, 4, '#808080').then((body) => request('upscale-image', { image: { body, type: 'image/png' } })),
      {
        local: scaled,
        client: clientFor(scaled),
      },
    );
    hooks.failNext(0);
    // 60 s, 2 min, 5 min, 10 min after the first attempt on RunningHub's schedule: five attempts in all.
    expect(scaled.tasks().find((t) => t.taskId === taskId)?.webhook).toMatchObject({ attempts: 5, delivered: false });
  });
});

describe('provider:inspect', () => {
  it('lists the Load nodes and widgets of a workflow fetched from getJsonApiFormat', async () => {
    const prompt = await fetchApiFormat(local.url, local.apiKey, BUNDLED_WORKFLOW_MAP['upscale-image'].workflowId);
    const found = candidates(prompt);
    expect(found.image.map((c) => [c.nodeId, c.fieldName])).toEqual([['10', 'image']]);
    expect(found.number.map((c) => [c.nodeId, c.fieldName])).toEqual([['12', 'value']]);
    const text = report(BUNDLED_WORKFLOW_MAP['upscale-image'].workflowId, prompt, ['upscale-image']);
    expect(text).toContain('inputs.image (image):\n    nodeId "10" fieldName "image"');
    expect(text).toContain(
      `suggested: ${JSON.stringify({ 'upscale-image': { workflowId: '1950000000000000001', inputs: { image: { nodeId: '10', fieldName: 'image' } } } })}`,
    );
  });

  it('suggests one Load node per slot, in node order, for a two-image workflow', async () => {
    const prompt = await fetchApiFormat(local.url, local.apiKey, BUNDLED_WORKFLOW_MAP['pose-changer'].workflowId);
    expect(report('w', prompt, ['pose-changer'])).toContain(
      `suggested: ${JSON.stringify({ 'pose-changer': { workflowId: 'w', inputs: { person: { nodeId: '40', fieldName: 'image' }, pose: { nodeId: '41', fieldName: 'image' } } } })}`,
    );
  });

  it('says why when the workflow is unknown', async () => {
    await expect(fetchApiFormat(local.url, local.apiKey, '42')).rejects.toThrow('getJsonApiFormat answered 380 WORKFLOW_NOT_EXISTS');
  });
});

describe('transient create failures', () => {
  const image = () => solid(4, 4, '#808080').then((body) => request('upscale-image', { image: { body, type: 'image/png' } }));
  const noWait = { sleep: async () => {}, random: () => 0 };

  it('gives up after three 500s with a plain (transient) error and starts no task', async () => {
    const flaky = await provider({ createFailRate: 1 });
    const error = (await start(clientFor(flaky, { clock: noWait }), await image()).then(
      () => null,
      (e: unknown) => e,
    )) as Error;
    expect(error).not.toBeInstanceOf(ProviderBusy);
    expect(error).not.toBeInstanceOf(ProviderFailed);
    expect(error.message).toBe('RunningHub create: 500 Injected transient failure');
    expect(flaky.tasks()).toEqual([]);
  });

  it('retries a create whose answer was lost: the first task exists too, and only its webhook can name it', async () => {
    const lossy = await provider({ latencyMs: 50 });
    lossy.loseNextCreateAnswer();
    const { taskId } = await start(clientFor(lossy, { clock: noWait }), await image());
    const tasks = lossy.tasks();
    expect(tasks).toHaveLength(2);
    const orphan = tasks.find((t) => t.taskId !== taskId);
    await lossy.ended(orphan?.taskId ?? '');
    // Both carry the job's webhook (and secret): lifecycle.onProviderCallback cancels the one the job did not record.
    expect(hooks.forTask(orphan?.taskId ?? '')).toHaveLength(1);
  });
});
