import { afterAll, describe, expect, it } from 'vitest';
import { isTerminal } from '../../lambdas/domain/jobs';
import { executionArn, HEAL_SLACK_MS, type Lab, readJob, SDK_THROTTLE_BACKOFF_MS, startLab, waitJob } from '../support/fault-lab';
import { publishRows } from '../support/fault-matrix';
import { type MatrixRow, runScenario, type Scenario } from '../support/fault-scenarios';

/**
 * DynamoDB misbehaving under many concurrent users: every SDK call the handlers make goes through a proxy
 * that throttles (400 ThrottlingException), fails (500) or — worst — executes the request and loses the
 * answer. The SDK retries (3 attempts); what still fails surfaces as a Lambda error: Step Functions
 * Retry/Catch, Lambda's async retries, a 500 to the browser (which retries), or a failed sweep.
 * Run timeouts are longer here: SDK backoff on throttling is ~0.5–2 s per call. Under sustained errors the SDK's
 * client-side retry quota drains and calls fail after a single attempt, so Lambda-level failures do happen.
 */
const FILE = 'fault-dynamo';
const lab: Lab = await startLab({ RUN_TIMEOUT_SECONDS: '20', QUEUE_TIMEOUT_SECONDS: '30' }, { dynamoProxy: true });
const proxy = lab.proxy as NonNullable<Lab['proxy']>;
const rows: MatrixRow[] = [];

afterAll(async () => {
  publishRows(FILE, rows);
  await lab.stop();
});

/** `users` users, each submitting `jobs` jobs one after the other, all at once; `aborts` running executions are aborted meanwhile. */
function crowd(users: number, jobs: number, aborts = 0) {
  return async (s: Scenario) => {
    const people = await Promise.all(Array.from({ length: users }, () => s.user('ddb')));
    const aborted = new Set<string>();
    const aborter = (async () => {
      // Healing under the same faults: abort running executions (EventBridge → execution-ended → heal, or the sweeper).
      while (aborted.size < aborts) {
        const jobs = await Promise.all(s.jobIds.map((id) => readJob(lab, id)));
        const victim = jobs.find((j) => j?.status === 'running' && j.runToken && !aborted.has(j.jobId));
        if (victim) {
          aborted.add(victim.jobId);
          const t0 = Date.now();
          lab.stack.stepFunctions.stopExecution(executionArn(lab, victim.jobId));
          s.victims.push({ jobId: victim.jobId, t0, why: 'execution aborted under DynamoDB faults' });
          // The healer asks the provider first: a task that had already finished keeps its outputs.
          s.expect[victim.jobId] = 'failed:HEALED|succeeded';
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    await Promise.all(
      people.map(async (user) => {
        for (let i = 0; i < jobs; i++) {
          const jobId = await s.submit(user);
          try {
            await waitJob(lab, jobId, (j) => isTerminal(j.status), 45_000);
          } catch {
            s.notes.push(`${jobId} was not terminal after 45 s; ${user.userId} stopped submitting`);
            return;
          }
        }
      }),
    );
    await aborter;
    const faulted = Object.entries(proxy.stats.byOperation)
      .sort((a, b) => b[1] - a[1])
      .map(([op, n]) => `${op} ${n}`)
      .join(', ');
    s.notes.push(
      `proxy: ${proxy.stats.requests} requests, ${proxy.stats.throttled} throttled, ${proxy.stats.serverErrors} 500s, ${proxy.stats.lostReplies} replies lost after commit (${faulted})`,
    );
  };
}

async function scenario(fault: string, rates: Parameters<typeof proxy.set>[0], body: (s: Scenario) => Promise<void>) {
  Object.assign(proxy.stats, { requests: 0, throttled: 0, serverErrors: 0, lostReplies: 0, byOperation: {} });
  proxy.set(rates);
  const row = await runScenario(lab, FILE, fault, body, {
    timeoutMs: 90_000,
    // The healers meet the same faults: a throttled sweep backs off (SDK) or fails and the next one runs. The SDK's
    // throttling backoff (base 500 ms, doubling: @smithy/core retry) does not shrink with this lab's sweep interval:
    // three throttles in a row on one call of the heal path cost up to 0.5 + 1 + 2 s.
    healSlackMs: HEAL_SLACK_MS + 2 * lab.sweepMs + SDK_THROTTLE_BACKOFF_MS,
    // Faults off before each user's follow-up job, which must then succeed.
    onSettled: () => proxy.set({ throttle: 0, serverError: 0, lostReply: 0 }),
  });
  proxy.set({ throttle: 0, serverError: 0, lostReply: 0 });
  rows.push(row);
  expect(row.violations).toEqual([]);
}

describe('DynamoDB throttling and 5xx under 10 concurrent users', () => {
  it('throttling (20%) and 500s (10%), request not executed', async () => {
    await scenario('DynamoDB throttling + 5xx', { throttle: 0.2, serverError: 0.1 }, crowd(10, 2, 2));
  }, 180_000);

  it('500 after the write committed (15%) plus throttling (5%): every retry meets its own earlier success', async () => {
    await scenario('DynamoDB 5xx after commit (reply lost)', { throttle: 0.05, lostReply: 0.15 }, crowd(10, 1, 1));
  }, 180_000);
});
