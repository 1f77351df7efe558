// One Lambda execution environment: runs in its own worker thread (own V8 isolate, own process.env, heap
// capped at the function's memory size), loads the function's bundled code from the cloud assembly once
// (init), then serves invocations one at a time, as a warm sandbox does.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';

const { codeDir, handler, armedFaults } = workerData;

// Fault points (see lambdas/domain/faults.ts) are armed by the local stack's own code, never by the
// function: the bundle's checkpoint() finds this bridge on globalThis and asks the parent when one is armed.
const armed = new Set(armedFaults);
const pendingFaults = new Map();
let faultSeq = 0;
globalThis[Symbol.for('ghostless.faults')] = {
  armed: new Map(),
  fired: [],
  bridge(point, subject) {
    if (!armed.has(point)) return undefined;
    const id = ++faultSeq;
    parentPort.postMessage({ type: 'fault', id, point, subject });
    return new Promise((resolve, reject) => pendingFaults.set(id, { resolve, reject }));
  },
};

/** `index.handler` → (file index.mjs|.js|.cjs in the code dir, export handler), as the Node.js runtime resolves it. */
function locate() {
  const dot = handler.lastIndexOf('.');
  const base = handler.slice(0, dot);
  const name = handler.slice(dot + 1);
  const file = ['.mjs', '.js', '.cjs'].map((ext) => join(codeDir, base + ext)).find(existsSync);
  if (!file) throw lambdaError('Runtime.ImportModuleError', `Error: Cannot find module '${base}'`);
  return { file, name };
}

function lambdaError(errorType, errorMessage) {
  const error = new Error(errorMessage);
  error.name = errorType;
  return error;
}

let init;
function load() {
  init ??= (async () => {
    const { file, name } = locate();
    const module = await import(pathToFileURL(file).href);
    const fn = module[name];
    if (typeof fn !== 'function') throw lambdaError('Runtime.HandlerNotFound', `${handler} is undefined or not exported`);
    return fn;
  })();
  return init;
}

// Init runs when the sandbox starts, as in Lambda; its failure is reported by the first invocation.
load().then(
  () => parentPort.postMessage({ type: 'init', ok: true }),
  () => parentPort.postMessage({ type: 'init', ok: false }),
);

const serialize = (error) => ({
  errorType: error instanceof Error ? error.name : typeof error,
  errorMessage: error instanceof Error ? error.message : String(error),
  trace: error instanceof Error && error.stack ? error.stack.split('\n') : [],
});

parentPort.on('message', async (message) => {
  if (message.type === 'faults') {
    armed.clear();
    for (const point of message.points) armed.add(point);
    return;
  }
  if (message.type === 'fault-reply') {
    const pending = pendingFaults.get(message.id);
    pendingFaults.delete(message.id);
    if (!pending) return;
    if (message.error) pending.reject(lambdaError(message.error.name, message.error.message));
    else pending.resolve();
    return;
  }
  if (message.type !== 'invoke') return;
  const { id, event, context } = message;
  let fn;
  try {
    fn = await load();
  } catch (error) {
    parentPort.postMessage({ type: 'result', id, ok: false, init: true, error: serialize(error) });
    return;
  }
  // The timeout runs from here: Lambda does not count the init phase against it.
  const deadline = Date.now() + context.timeoutMs;
  parentPort.postMessage({ type: 'started', id });
  try {
    const result = await fn(JSON.parse(event), {
      ...context,
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
      done() {},
      fail() {},
      succeed() {},
    });
    parentPort.postMessage({ type: 'result', id, ok: true, payload: JSON.stringify(result ?? null) });
  } catch (error) {
    parentPort.postMessage({ type: 'result', id, ok: false, error: serialize(error) });
  }
});

// Like the Node.js runtime: an unhandled rejection is a crash of the sandbox.
process.on('unhandledRejection', (reason) => {
  parentPort.postMessage({ type: 'crash', error: serialize(reason) });
});
