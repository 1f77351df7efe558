import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapLimit, waitingJob } from '../../bench/support';
import { DynamoStore } from '../../lambdas/adapters/dynamo-store';
import { arm, disarm, firings } from '../../lambdas/domain/faults';
import { DESCRIBES_PER_SWEEP } from '../../lambdas/domain/healing';
import type { JobRecord } from '../../lambdas/domain/jobs';
import { image } from '../support/media';
import { type StartedTestStack, startTestStack } from '../support/started-stack';

/**
 * The sweeper at scale, on the local runtime (the synthesized sweeper function in its sandbox, behind the IAM
 * gateway, against DynamoDB Local and the local Step Functions API): 5,000 live jobs, admitted the way admission
 * admits them (debit, lock, queue entry), whose executions were never started — every one is a straggler. One sweep
 * examines all of them from their own state, spends at most DESCRIBES_PER_SWEEP DescribeExecution calls, heals
 * what it could check, and goes on past a throttled call.
 */
const LIVE_JOBS = 5000;
const SEED_CONCURRENCY = 32;
const throttled = () => Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });

type SweepResult = {
  repairs: Record<string, number>;
  gauges: { queued: number; running: number };
  scan: { examined: number; listed: number; described: number; deferred: number; failed: number };
};

let stack: StartedTestStack;
let store: DynamoStore;
const jobs: JobRecord[] = [];
const run = randomUUID().slice(0, 8);

const jobOf = (i: number, createdAt: string): JobRecord =>
  waitingJob(`${run}-user-${i}`, createdAt, {
    inputs: [{ slot: 'image', key: `inputs/${run}-${i}/image`, contentType: 'image/png', bytes: 1024 }],
  });

async function sweep(): Promise<SweepResult> {
  const [[result]] = (await stack.sweep()) as [[SweepResult]];
  return result;
}

beforeAll(async () => {
  // A short grace, so that the job submitted through the API below is old enough to be checked within the test.
  stack = await startTestStack({ HEAL_GRACE_MS: '2000', PROVIDER_LATENCY_MS: '600000' });
  store = new DynamoStore(stack.doc, stack.tableName, 30);
  // Admitted ten minutes ago, one millisecond apart: well past the heal grace, in a known queue order.
  const base = Date.now() - 10 * 60_000;
  for (let i = 0; i < LIVE_JOBS; i++) jobs.push(jobOf(i, new Date(base + i).toISOString()));
  const started = performance.now();
  await mapLimit(jobs, SEED_CONCURRENCY, async (job) => {
    await store.grantCredits(job.userId, 1, 'operator', { note: 'sweep scale test' });
    expect((await store.admit(job)).outcome).toBe('admitted');
  });
  console.info(`seeded ${LIVE_JOBS} live jobs in ${Math.round(performance.now() - started)} ms`);
}, 600_000);

afterAll(async () => {
  disarm();
  await stack?.stop();
});

describe('a sweep of 5,000 live jobs', () => {
  it('examines every live job, describes at most its budget of executions and goes on past throttled ones', async () => {
    const victims = jobs.slice(0, 3).map((job) => job.jobId);
    arm('sfn:describe-execution', { action: 'crash', subject: (id) => victims.includes(id as string), times: 3, error: throttled });

    const started = performance.now();
    const first = await sweep();
    console.info(`sweep of ${LIVE_JOBS} live jobs: ${Math.round(performance.now() - started)} ms`, first.scan);

    expect(firings('sfn:describe-execution').filter((f) => victims.includes(f.subject as string))).toHaveLength(3);
    expect(first.scan.examined).toBe(LIVE_JOBS);
    expect(first.scan.described).toBe(DESCRIBES_PER_SWEEP);
    expect(first.scan.failed).toBe(3);
    expect(first.scan.deferred).toBe(LIVE_JOBS - DESCRIBES_PER_SWEEP);
    // Every described job but the throttled ones had no execution: healed, in queue order.
    expect(first.repairs.queued_without_driver).toBe(DESCRIBES_PER_SWEEP - 3);
    expect(first.gauges.queued + first.gauges.running).toBe(LIVE_JOBS);
    for (const job of jobs.slice(3, DESCRIBES_PER_SWEEP)) expect((await store.getJob(job.jobId))?.error?.code).toBe('HEALED');
    for (const jobId of victims) expect((await store.getJob(jobId))?.status).not.toMatch(/succeeded|failed|cancelled/);
    // Beyond the budget, nothing was touched this time.
    expect((await store.getJob(jobs[DESCRIBES_PER_SWEEP]?.jobId as string))?.status).toBe('queued');
  }, 300_000);

  it('looks first, next time, at the jobs it could not check', async () => {
    const second = await sweep();
    expect(second.scan.examined).toBe(LIVE_JOBS - (DESCRIBES_PER_SWEEP - 3));
    expect(second.scan.failed).toBe(0);
    for (const job of jobs.slice(0, 3)) expect((await store.getJob(job.jobId))?.error?.code).toBe('HEALED');
  }, 300_000);

  it('takes a job whose execution the list shows running as alive, without describing it', async () => {
    const user = await stack.api.user(`${run}-live`, 5);
    const jobId = await stack.api.submit(user.token, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: await image() }]);
    await stack.api.waitForJob(user.token, jobId, (job) => job.status === 'queued' || job.status === 'running', 60_000);
    arm('sfn:describe-execution', { action: 'delay', delayMs: 0, subject: jobId, times: Number.POSITIVE_INFINITY });
    // Past its grace: from here on only its execution says whether it has a driver.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const third = await sweep();
    expect(third.scan.listed).toBeGreaterThanOrEqual(1);
    expect(firings('sfn:describe-execution').filter((f) => f.subject === jobId)).toEqual([]);
    expect((await stack.api.job(user.token, jobId)).body.status).toMatch(/queued|running/);
  }, 300_000);
});
