import type { IncomingMessage, ServerResponse } from 'node:http';
import S3rver from 's3rver';
import { now } from '../support';

/**
 * Timestamps from inside s3rver (patched in this process only, on import): when it emits each job's ObjectCreated
 * event, and how long it serves each request.
 */

export interface S3rverRequest {
  method: string;
  ranged: boolean;
  t0: number;
  t1: number;
}

// s3rver emits 'event' synchronously while it stores the object (before it answers the gateway): record when.
export const eventAt = new Map<string, number>();
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/;
const s3rverProto = S3rver.prototype as unknown as { emit: (name: string | symbol, ...args: unknown[]) => boolean };
const originalEmit = s3rverProto.emit;
s3rverProto.emit = function emit(this: unknown, name: string | symbol, ...args: unknown[]) {
  if (name === 'event') {
    const key = (args[0] as { Records?: { s3?: { object?: { key?: string } } }[] })?.Records?.[0]?.s3?.object?.key ?? '';
    const jobId = UUID.exec(key)?.[0];
    if (jobId && !eventAt.has(jobId)) eventAt.set(jobId, now());
  }
  return originalEmit.call(this, name, ...args);
};

// And how long s3rver itself takes per request (from its HTTP server's 'request' to the response's 'finish').
export const s3rverRequests: S3rverRequest[] = [];
const s3rverKoa = S3rver.prototype as unknown as { callback: () => (req: IncomingMessage, res: ServerResponse) => unknown };
const originalCallback = s3rverKoa.callback;
s3rverKoa.callback = function callback(this: unknown) {
  const handle = originalCallback.call(this);
  return (req: IncomingMessage, res: ServerResponse) => {
    const entry = { method: req.method ?? '', ranged: Boolean(req.headers.range), t0: now(), t1: Number.NaN };
    res.once('finish', () => {
      entry.t1 = now();
      s3rverRequests.push(entry);
    });
    return handle(req, res);
  };
};
