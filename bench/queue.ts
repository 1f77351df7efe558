/**
 * Queue benchmark: Ghostless's task-token FIFO queue (the real state machine, handlers and local provider) next
 * to a polling semaphore shaped like AWS's DynamoDB-concurrency sample, on the same local Step Functions
 * interpreter and the same DynamoDB Local.
 *
 *   npm run bench:queue
 *   npx tsx bench/queue.ts --jobs=30 --throughput-jobs=60 --group=3 --long=60 --short=10 --latency=200
 *
 * Each scenario (bench/queue/, one module each) runs in a child process (the handlers read their configuration
 * once per process, as in a Lambda cold start); the parent owns the one DynamoDB Local, prints the table
 * (bench/queue/report.ts) and cleans up.
 * Prints figures only; never asserts timings.
 */
import './quiet-env';
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startDynamoDbLocal } from '../local/emulators/dynamodb';
import { dynamoDbLocalCleanup, fmt, loadAverage, machineAtStart } from './figures';
import { baselineHandoff } from './queue/baseline-handoff';
import { baselineWaits } from './queue/baseline-waits';
import { ghostlessHandoff } from './queue/ghostless-handoff';
import { ghostlessWaits } from './queue/ghostless-waits';
import {
  CAPACITY,
  GROUP,
  HANDOFF_JOBS,
  LATENCY_MS,
  LONG_WAIT_S,
  ONLY,
  type Scenario,
  SHORT_WAIT_S,
  THROUGHPUT_JOBS,
} from './queue/options';
import { printReport } from './queue/report';
import { type ChildMessage, type Result, tellParent } from './queue/results';
import { dynamoDbLocalChildren, now } from './support';

const SCENARIO_TIMEOUT_MS = 240_000;

// =================================================================================================================
// Parent: one DynamoDB Local, the scenarios in child processes, the table.

function runChild(
  scenario: Scenario,
  endpoint: string,
  children: Set<ChildProcess>,
  onIdle?: () => void,
): Promise<{ result?: Result; error?: string; seconds: number }> {
  const started = now();
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      [...process.execArgv, fileURLToPath(import.meta.url), `--scenario=${scenario}`, ...process.argv.slice(2)],
      {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        env: { ...process.env, BENCH_DYNAMODB_ENDPOINT: endpoint },
      },
    );
    children.add(child);
    let result: Result | undefined;
    let error: string | undefined;
    const timer = setTimeout(() => {
      error = `timed out after ${SCENARIO_TIMEOUT_MS / 1000} s`;
      child.kill('SIGTERM');
    }, SCENARIO_TIMEOUT_MS);
    child.on('message', (message: ChildMessage) => {
      if (message.idle) {
        onIdle?.();
        return;
      }
      result = message.result;
      error = message.error;
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      children.delete(child);
      const seconds = (now() - started) / 1000;
      console.log(`  ${scenario.padEnd(22)} ${error ? `FAILED: ${error}` : 'done'} in ${fmt(seconds, 0)} s`);
      resolve({ result, error: error ?? (code === 0 ? undefined : `exit code ${code}`), seconds });
    });
  });
}

async function parent() {
  const benchStart = now();
  console.log(
    `Queue benchmark: MAX_RUNNING=${CAPACITY}, provider latency ${LATENCY_MS} ms (0 ms for throughput); hand-off ${HANDOFF_JOBS} jobs, ` +
      `throughput ${THROUGHPUT_JOBS} jobs, waits ~0/${SHORT_WAIT_S}/${LONG_WAIT_S} s × ${GROUP} jobs\n`,
  );
  console.log(machineAtStart());
  const dynamo = await startDynamoDbLocal();
  const jvm = dynamoDbLocalChildren(dynamo.pid);
  const children = new Set<ChildProcess>();
  const stopAll = () => {
    for (const child of children) child.kill('SIGTERM');
  };
  process.once('SIGINT', stopAll);
  const results = new Map<Scenario, { result?: Result; error?: string; seconds: number }>();
  try {
    // The two 60-s waiting scenarios are idle most of the time: run them side by side, then the timed ones alone.
    const wanted = (scenario: Scenario) => !ONLY || ONLY.includes(scenario);
    const run = (scenario: Scenario, onIdle?: () => void) => {
      if (!wanted(scenario)) return Promise.resolve();
      return runChild(scenario, dynamo.endpoint, children, onIdle).then((r) => void results.set(scenario, r));
    };
    // Phase 1: the two waiting scenarios side by side. Once both have their jobs parked behind the blockers (a long,
    // quiet wait), the baseline's timed scenarios run: its figures are ruled by its 3 s poll, not by a few ms of CPU.
    // Phase 2: Ghostless's timed scenarios, each alone on the machine.
    const waiting = (['ghostless-waits', 'baseline-waits'] as const).filter(wanted);
    let idle = 0;
    let startTimedBaseline: () => void = () => {};
    const idleReached = new Promise<void>((resolve) => {
      startTimedBaseline = resolve;
    });
    const onIdle = () => {
      if (++idle === waiting.length) startTimedBaseline();
    };
    if (waiting.length === 0) startTimedBaseline();
    const phase1 = Promise.all(waiting.map((scenario) => run(scenario, onIdle)));
    const baselineTimed = Promise.race([idleReached, phase1]).then(() =>
      Promise.all([run('baseline-handoff'), run('baseline-handoff-spread'), run('baseline-throughput')]),
    );
    await Promise.all([phase1, baselineTimed]);
    await run('ghostless-handoff');
    await run('ghostless-throughput');
  } finally {
    stopAll();
    await dynamo.stop();
  }
  console.log();
  printReport(results);
  console.log(`\nbench took ${fmt((now() - benchStart) / 1000, 0)} s; load average ${loadAverage()} at the end.`);
  console.log(dynamoDbLocalCleanup([String(dynamo.pid), ...jvm], 'stacks stopped'));
  return [...results.values()].some((r) => r.error) ? 1 : 0;
}

// =================================================================================================================
// Child: one scenario, its result sent to the parent.

function runScenario(scenario: Scenario): Promise<Result> {
  switch (scenario) {
    case 'ghostless-handoff':
    case 'ghostless-throughput':
      return ghostlessHandoff(scenario);
    case 'ghostless-waits':
      return ghostlessWaits();
    case 'baseline-handoff':
    case 'baseline-handoff-spread':
    case 'baseline-throughput':
      return baselineHandoff(scenario);
    case 'baseline-waits':
      return baselineWaits();
  }
}

async function child(scenario: Scenario) {
  try {
    await tellParent({ result: await runScenario(scenario) });
  } catch (error) {
    console.error(error);
    await tellParent({ error: (error as Error).message });
  }
}

const scenarioArg = process.argv.find((a) => a.startsWith('--scenario='))?.slice('--scenario='.length) as Scenario | undefined;
(scenarioArg ? child(scenarioArg).then(() => 0) : parent()).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
