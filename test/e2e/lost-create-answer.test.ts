import { randomUUID } from 'node:crypto';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { accountTaskCount } from '../../lambdas/adapters/runninghub';
import type { JobRecord } from '../../lambdas/domain/jobs';
import { audit, renderAudit } from '../../scripts/audit-report';
import { assertInvariants } from '../support/invariants';
import { image } from '../support/media';
import { startTestStack } from '../support/started-stack';

/**
 * RunningHub's create may start a task and the answer never arrive (a timeout, a dropped connection). The bundled
 * provider drops the connection after starting the task, as such a create looks to the client. The job then keeps
 * the secret and "creating" marker it recorded before create, and the task's own TASK_END webhook names the task.
 */
const stack = await startTestStack({ PROVIDER_LATENCY_MS: '300', RUN_TIMEOUT_SECONDS: '30' });
afterAll(() => stack.stop());

const record = async (jobId: string) =>
  (
    await stack.doc.send(
      new GetCommand({ TableName: stack.config.tableName, Key: { pk: `JOB#${jobId}`, sk: 'JOB' }, ConsistentRead: true }),
    )
  ).Item as JobRecord | undefined;

describe('a create whose every answer was lost', () => {
  it('leaves the job running until a task it started calls back, which adopts it, and the job succeeds', async () => {
    // Create is tried 3 times (runninghub.ts RETRY.create): every try starts a task and gets no answer.
    stack.provider.loseCreateAnswers(3);
    const user = await stack.api.user(`lost-answer-${randomUUID()}`, 5);
    const jobId = await stack.api.submit(user.token, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: await image() }]);
    const job = await stack.api.waitForJob(user.token, jobId, undefined, 60_000);
    expect(job).toMatchObject({ status: 'succeeded', refunded: false, outputs: [expect.objectContaining({ contentType: 'image/png' })] });

    // The first task's webhook can adopt the job and finish it while the client still waits to send its last try.
    const tasksOfJob = () => stack.provider.tasks().filter((task) => task.webhookUrl?.includes(jobId));
    await expect.poll(() => tasksOfJob().length, { timeout: 15_000 }).toBe(3);
    const tasks = tasksOfJob();
    const ended = await Promise.all(tasks.map((task) => stack.provider.ended(task.taskId)));
    // Each task called back with the job's secret: one was adopted, the others were turned away (and cancelled, had they still run).
    expect(ended.every((task) => task.webhook.delivered)).toBe(true);
    const adopted = (await record(jobId))?.providerTaskId;
    expect(tasks.map((task) => task.taskId)).toContain(adopted);
    expect(ended.filter((task) => task.status === 'QUEUED' || task.status === 'RUNNING')).toEqual([]);
    expect((await record(jobId))?.creatingAt).toBeUndefined();
    await assertInvariants(stack);
  }, 90_000);
});

describe('the audit', () => {
  it('reports the tasks the provider key runs that Ghostless cannot account for, from accountStatus', async () => {
    // One job of Ghostless's own holds a task (it never ends), and the key's other clients run 2.
    stack.provider.hangNextTask();
    const user = await stack.api.user(`audit-${randomUUID()}`, 5);
    const jobId = await stack.api.submit(user.token, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: await image() }]);
    await expect.poll(async () => (await record(jobId))?.providerTaskId, { timeout: 30_000 }).toBeDefined();
    stack.provider.setForeignTasks(2);
    try {
      const report = await audit({
        doc: stack.doc,
        tableName: stack.config.tableName,
        graceMs: 120_000,
        capacity: 3,
        providerTaskCount: () => accountTaskCount(stack.provider.url, stack.provider.apiKey),
      });
      expect(report.provider).toEqual({ currentTaskCounts: 3, ghostless: 1, unaccounted: 2 });
      expect(renderAudit(report)).toContain('provider tasks: the key runs 3, Ghostless accounts for 1; 2 unaccounted for');
    } finally {
      stack.provider.setForeignTasks(0);
      await stack.api.call('POST', `/api/jobs/${jobId}/cancel`, { token: user.token });
    }
    expect(await stack.api.waitForJob(user.token, jobId)).toMatchObject({ status: 'cancelled' });
  }, 90_000);
});
