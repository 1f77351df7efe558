import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A tiny HTTP proxy in front of DynamoDB Local that misbehaves like DynamoDB under stress. The handlers
 * point at it (AWS_ENDPOINT_URL_DYNAMODB), so every SDK call they make may meet a fault; the SDK's own
 * retries (3 attempts, standard mode) then decide whether the fault surfaces to the domain code.
 *
 * - `throttle`: 400 ThrottlingException, request NOT executed (what DynamoDB answers over capacity).
 * - `serverError`: 500 InternalServerError, request NOT executed.
 * - `lostReply`: the request IS executed, then the answer is replaced by a 500 — the ambiguous failure
 *   (committed, but the caller does not know) that every conditional write must survive on retry.
 */
export interface DynamoFaultRates {
  throttle: number;
  serverError: number;
  lostReply: number;
}

export interface DynamoFaultProxy {
  url: string;
  /** Change the rates (all 0 = a transparent proxy). */
  set(rates: Partial<DynamoFaultRates>): void;
  stats: { requests: number; throttled: number; serverErrors: number; lostReplies: number; byOperation: Record<string, number> };
  stop(): Promise<void>;
}

const ERROR_PREFIX = 'com.amazonaws.dynamodb.v20120810#';

export async function startDynamoFaultProxy(target: string, initial: Partial<DynamoFaultRates> = {}): Promise<DynamoFaultProxy> {
  const rates: DynamoFaultRates = { throttle: 0, serverError: 0, lostReply: 0, ...initial };
  const stats: DynamoFaultProxy['stats'] = { requests: 0, throttled: 0, serverErrors: 0, lostReplies: 0, byOperation: {} };
  const upstream = new URL(target);

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    const body = Buffer.concat(chunks);
    const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? 'unknown';
    stats.requests++;

    const roll = Math.random();
    if (roll < rates.throttle) {
      stats.throttled++;
      count(operation);
      return reply(res, 400, { __type: `${ERROR_PREFIX}ThrottlingException`, message: 'Rate of requests exceeds the allowed throughput.' });
    }
    if (roll < rates.throttle + rates.serverError) {
      stats.serverErrors++;
      count(operation);
      return reply(res, 500, { __type: `${ERROR_PREFIX}InternalServerError`, message: 'Internal server error' });
    }
    const lose = roll < rates.throttle + rates.serverError + rates.lostReply;

    const forwarded = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
      (answer) => {
        const parts: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => parts.push(chunk));
        answer.on('end', () => {
          if (lose) {
            stats.lostReplies++;
            count(operation);
            return reply(res, 500, { __type: `${ERROR_PREFIX}InternalServerError`, message: 'Internal server error (reply lost)' });
          }
          const headers = { ...answer.headers };
          delete headers['transfer-encoding'];
          res.writeHead(answer.statusCode ?? 502, { ...headers, 'content-length': Buffer.concat(parts).length });
          res.end(Buffer.concat(parts));
        });
        answer.on('error', () => res.destroy());
      },
    );
    forwarded.on('error', () => {
      if (!res.headersSent) reply(res, 502, { __type: `${ERROR_PREFIX}InternalServerError`, message: 'proxy: upstream unreachable' });
    });
    forwarded.end(body);
  });

  function count(operation: string) {
    stats.byOperation[operation] = (stats.byOperation[operation] ?? 0) + 1;
  }

  await new Promise<void>((done) => server.listen(0, '127.0.0.1', () => done()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    set: (next) => Object.assign(rates, next),
    stats,
    stop: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}

function reply(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/x-amz-json-1.0',
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': 'fault-proxy',
  });
  res.end(text);
}
