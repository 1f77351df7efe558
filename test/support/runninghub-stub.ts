import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';

/**
 * A RunningHub-compatible endpoint shaped after the public API documentation (docs/PRODUCT.md "RunningHub API facts"):
 * every JSON POST answers HTTP 200 `{code, msg, data}`; create and ai-app/run start a task that ends at once
 * and call its webhook with `{event: "TASK_END", taskId, eventData: "<the outputs answer as a JSON string>"}`
 * (retried until answered 200). The task's one output is whatever `output()` streams, served from this host.
 */
export async function startRunningHubStub(output: { bytes: number; head: Uint8Array; fileType: string }) {
  let nextTask = 1950000000000000000n;
  const calls: string[] = [];
  const fileUrl = () => `${url}/files/output.${output.fileType}`;
  const outputsAnswer = () => ({
    code: 0,
    msg: 'success',
    data: [{ fileUrl: fileUrl(), fileType: output.fileType, taskCostTime: '1', nodeId: '9' }],
  });

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', 'http://stub').pathname;
    calls.push(path);
    if (req.method === 'GET' && path === `/files/output.${output.fileType}`) return streamOutput(res);
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString();
    const body = req.headers['content-type']?.startsWith('application/json') ? (JSON.parse(raw || '{}') as Record<string, unknown>) : {};
    const answer = (data: unknown, code = 0, msg = 'success') =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ code, msg, data }));
    switch (path) {
      case '/task/openapi/upload':
        return answer({ fileName: `api/${Date.now().toString(16)}.png`, fileType: 'image' });
      case '/task/openapi/create':
      case '/task/openapi/ai-app/run': {
        const taskId = String(nextTask++);
        if (typeof body.webhookUrl === 'string') void callBack(body.webhookUrl, taskId);
        return answer({ taskId, taskStatus: 'RUNNING', clientId: 'stub', netWssUrl: null, promptTips: '{"node_errors":{}}' });
      }
      case '/task/openapi/outputs':
        return answer(outputsAnswer().data);
      case '/task/openapi/status':
        return answer('SUCCESS');
      case '/task/openapi/cancel':
        return answer(null, 807, 'APIKEY_TASK_CANNOT_CANCEL');
      case '/uc/openapi/accountStatus':
        return answer({ remainCoins: '1000', currentTaskCounts: '0', remainMoney: null, currency: null, apiType: 'NORMAL' });
      default:
        return answer(null, 301, 'PARAMS_INVALID');
    }
  });

  function streamOutput(res: ServerResponse) {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(output.bytes) });
    const chunk = Buffer.alloc(1024 * 1024, 0x5a);
    async function* body() {
      yield Buffer.from(output.head);
      for (let sent = output.head.length; sent < output.bytes; sent += chunk.length)
        yield chunk.subarray(0, Math.min(chunk.length, output.bytes - sent));
    }
    Readable.from(body()).pipe(res);
  }

  async function callBack(webhookUrl: string, taskId: string) {
    const payload = JSON.stringify({ event: 'TASK_END', taskId, eventData: JSON.stringify(outputsAnswer()) });
    for (let attempt = 0; attempt < 20; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 300));
      const status = await fetch(webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: payload }).then(
        (r) => r.status,
        () => 0,
      );
      if (status === 200) return;
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, calls, stop: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
