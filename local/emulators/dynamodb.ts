import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DYNAMODB_LOCAL_DIR, DYNAMODB_LOCAL_JAR } from '../ensure-deps.mjs';
import { freePort } from './free-port';

export interface DynamoDbLocalOptions {
  /** Directory for the database files; undefined runs DynamoDB Local with -inMemory. */
  dataDir?: string;
  /** Port to bind; omitted or 0 picks a free one. */
  port?: number;
}

export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  /** The wrapper shell's pid (also the process group of the JVM). */
  pid: number;
  stop(): Promise<void>;
}

/**
 * Runs java in the background and ties its life to the wrapper's stdin, a pipe from Node: when Node goes
 * away for any reason (even SIGKILL) the pipe closes, `cat` returns and the watcher kills the JVM (TERM,
 * then KILL after 5 s). A TERM/INT/HUP to the wrapper is forwarded to the JVM and the wrapper exits only
 * once the JVM is gone, so awaiting the wrapper's exit awaits the JVM's.
 */
const WRAPPER = `
exec 3<&0 </dev/null
"$@" 3<&- &
JPID=$!
{ cat <&3; kill -TERM $JPID; i=0; while kill -0 $JPID && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; kill -KILL $JPID; } >/dev/null 2>&1 &
WPID=$!
exec 3<&-
trap 'kill -TERM $JPID 2>/dev/null' TERM INT HUP
wait $JPID
CODE=$?
while kill -0 $JPID 2>/dev/null; do wait $JPID; CODE=$?; done
kill $WPID 2>/dev/null
exit $CODE
`;

const live = new Set<ChildProcess>();
let hooksInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Kills every JVM still running when Node exits or is told to stop; a SIGKILLed Node is covered by the wrapper. */
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const child of live) killGroup(child, 'SIGTERM');
  });
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    const onSignal = () => {
      for (const child of live) killGroup(child, 'SIGTERM');
      // Only ours: keep the default behaviour of the signal (exit). Otherwise the app's own handler decides.
      if (process.listenerCount(signal) === 1) process.exit(code);
    };
    process.on(signal, onSignal);
  }
}

async function waitUntilReady(endpoint: string, child: ChildProcess, output: () => string, timeoutMs: number) {
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`DynamoDB Local exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output()}`);
      }
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }), { abortSignal: AbortSignal.timeout(1000) });
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error(`DynamoDB Local did not answer within ${timeoutMs} ms:\n${output()}`);
  } finally {
    client.destroy();
  }
}

async function startOnce(dataDir: string | undefined, port: number): Promise<DynamoDbLocal> {
  if (!existsSync(DYNAMODB_LOCAL_JAR)) {
    throw new Error(`DynamoDB Local is missing at ${DYNAMODB_LOCAL_JAR}: run "node local/ensure-deps.mjs"`);
  }
  const storage = dataDir ? ['-dbPath', resolve(dataDir)] : ['-inMemory'];
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const java = [
    'java',
    '-XX:+UseSerialGC',
    '-Djava.library.path=./DynamoDBLocal_lib',
    '-jar',
    'DynamoDBLocal.jar',
    ...storage,
    '-sharedDb',
    '-port',
    String(port),
    '-disableTelemetry',
  ];
  installExitHooks();
  const child = spawn('sh', ['-c', WRAPPER, 'dynamodb-local', ...java], {
    cwd: DYNAMODB_LOCAL_DIR,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true, // own process group, so stop() and the exit hook reach the JVM too
  });
  live.add(child);
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-8000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  child.stdin?.on('error', () => {});
  const exited = new Promise<void>((done) => {
    child.once('exit', () => {
      live.delete(child);
      child.stdin?.destroy();
      done();
    });
  });
  child.once('error', () => live.delete(child));

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM'); // the wrapper forwards it to the JVM and exits when the JVM has
        const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
    })();
    return stopping;
  };

  const endpoint = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(endpoint, child, () => output, 30_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, port, pid: child.pid as number, stop };
}

/** Starts AWS's DynamoDB Local and resolves once it answers ListTables. */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  if (options.port) return startOnce(options.dataDir, options.port);
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(options.dataDir, await freePort());
    } catch (error) {
      lastError = error;
      if (!/Address already in use|BindException/i.test(String(error))) throw error;
    }
  }
  throw lastError;
}
