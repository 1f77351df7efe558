import { Worker } from 'node:worker_threads';

/** A counting HTTP proxy in front of DynamoDB Local, on a worker thread (see dynamo-proxy-worker.mjs). */

/** One DynamoDB API call as seen on the wire. */
export interface DynamoCall {
  /** X-Amz-Target operation, e.g. TransactWriteItems. */
  op: string;
  /** Request fully received by the proxy (the SDK has sent it). */
  t0: number;
  /** DynamoDB Local's answer fully received (the write is committed when ok). */
  t1: number;
  ok: boolean;
  /** `__type` of an error answer, short form (e.g. ConditionalCheckFailedException). */
  error?: string;
  /** Job ids (UUIDs) found in the request body: keys, attribute values, execution ARNs. */
  ids: string[];
  /** TransactWriteItems: number of items; other writes: 1; reads: 0. */
  items: number;
  /** Names of the markers whose substring the request body contains. */
  marks: string[];
}

export const WRITE_OPS = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'TransactWriteItems', 'BatchWriteItem']);

export interface CountingProxy {
  endpoint: string;
  /** Every call recorded since the last reset (fetched incrementally from the proxy thread). */
  calls(): Promise<DynamoCall[]>;
  /** The most calls in flight at once since the last reset. */
  maxInFlight(): number;
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Forwards every request to `target` unchanged and records it (operation, timing, job ids, items, markers).
 * Counting on the wire keeps the handlers untouched: it sees exactly what the deployed code sends to DynamoDB.
 * The proxy runs on its own thread, so its timestamps are DynamoDB Local's answer times, not the main loop's.
 */
export async function startCountingProxy(target: string, markers: Record<string, string> = {}): Promise<CountingProxy> {
  const worker = new Worker(new URL('./dynamo-proxy-worker.mjs', import.meta.url), { workerData: { target, markers } });
  worker.unref();
  let seq = 0;
  const waiting = new Map<number, (message: Record<string, unknown>) => void>();
  const listening = new Promise<number>((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (message: Record<string, unknown>) => {
      if (message.type === 'listening') resolve(message.port as number);
      const done = waiting.get(message.id as number);
      if (done) {
        waiting.delete(message.id as number);
        done(message);
      }
    });
  });
  const ask = (message: Record<string, unknown>) =>
    new Promise<Record<string, unknown>>((resolve) => {
      const id = ++seq;
      waiting.set(id, resolve);
      worker.postMessage({ ...message, id });
    });
  const port = await listening;
  let known: DynamoCall[] = [];
  let max = 0;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async calls() {
      const reply = await ask({ type: 'since', from: known.length });
      known = known.concat(reply.calls as DynamoCall[]);
      max = (reply.inFlight as { max: number }).max;
      return known;
    },
    maxInFlight: () => max,
    async reset() {
      await ask({ type: 'reset' });
      known = [];
      max = 0;
    },
    async stop() {
      await ask({ type: 'stop' });
      await worker.terminate();
    },
  };
}
