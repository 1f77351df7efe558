// A counting HTTP proxy in front of DynamoDB Local, on its own thread: its timestamps are not delayed by a
// busy main event loop, and the main thread spends no time forwarding. Started by `startCountingProxy`.
import { Agent, createServer, request as httpRequest } from 'node:http';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';

const WRITE_OPS = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'TransactWriteItems', 'BatchWriteItem']);
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const now = () => performance.timeOrigin + performance.now();

const upstream = new URL(workerData.target);
/** name → substring: a call whose request body contains the substring carries the name in `marks`. */
const markers = Object.entries(workerData.markers ?? {});
const agent = new Agent({ keepAlive: true });
let calls = [];
let current = 0;
let max = 0;

function transactItems(text) {
  try {
    return JSON.parse(text).TransactItems?.length ?? 0;
  } catch {
    return 0;
  }
}

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const t0 = now();
    current++;
    max = Math.max(max, current);
    const target = String(req.headers['x-amz-target'] ?? '');
    const op = target.slice(target.indexOf('.') + 1);
    const forward = httpRequest(
      { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers, agent },
      (answer) => {
        const parts = [];
        answer.on('data', (chunk) => parts.push(chunk));
        answer.on('end', () => {
          const t1 = now();
          current--;
          const reply = Buffer.concat(parts);
          const status = answer.statusCode ?? 500;
          let error;
          if (status >= 400) {
            const type = /"__type"\s*:\s*"([^"]+)"/.exec(reply.toString('utf8'))?.[1] ?? `HTTP${status}`;
            error = type.slice(type.lastIndexOf('#') + 1);
          }
          const text = body.toString('utf8');
          calls.push({
            op,
            t0,
            t1,
            ok: status < 400,
            error,
            ids: [...new Set(text.match(UUID) ?? [])],
            items: op === 'TransactWriteItems' ? transactItems(text) : WRITE_OPS.has(op) ? 1 : 0,
            marks: markers.filter(([, needle]) => text.includes(needle)).map(([name]) => name),
          });
          res.writeHead(status, answer.headers);
          res.end(reply);
        });
      },
    );
    forward.on('error', (error) => {
      current--;
      res.writeHead(502);
      res.end(String(error));
    });
    forward.end(body);
  });
});

server.listen(0, '127.0.0.1', () => parentPort.postMessage({ type: 'listening', port: server.address().port }));

parentPort.on('message', (message) => {
  switch (message.type) {
    case 'since': // calls recorded from index `from` on (the main thread keeps what it already has)
      parentPort.postMessage({ type: 'calls', id: message.id, calls: calls.slice(message.from), inFlight: { now: current, max } });
      break;
    case 'reset':
      calls = [];
      max = current;
      parentPort.postMessage({ type: 'reset', id: message.id });
      break;
    case 'stop':
      server.closeAllConnections();
      server.close(() => {
        agent.destroy();
        parentPort.postMessage({ type: 'stopped', id: message.id });
        parentPort.close();
      });
      break;
  }
});
