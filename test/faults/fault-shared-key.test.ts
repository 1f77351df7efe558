import { afterAll, describe, expect, it } from 'vitest';
import { type Lab, readJob, startLab, waitJob } from '../support/fault-lab';
import { publishRows } from '../support/fault-matrix';
import { runScenario } from '../support/fault-scenarios';

/**
 * The provider key shared with another client that keeps 2 of its 3 tasks busy, and 30% of creates answered
 * 500 (PROVIDER_FOREIGN_TASKS and PROVIDER_CREATE_FAIL_RATE are fixed per stack, hence this file). Ghostless
 * still believes in MAX_RUNNING 3: every job must succeed anyway, waiting at the head of the queue whenever the
 * key is full or the provider refuses, and no task may be left at the provider.
 */
const FILE = 'fault-shared-key';
const lab: Lab = await startLab({
  PROVIDER_FOREIGN_TASKS: '2',
  PROVIDER_CREATE_FAIL_RATE: '0.3',
  // Twenty jobs pass one at a time through the one task the key has left: the last one waits the longest.
  QUEUE_TIMEOUT_SECONDS: '300',
  RUN_TIMEOUT_SECONDS: '30',
});
afterAll(() => lab.stop());

describe('a provider key shared with another client', () => {
  it('20 jobs from 10 users all succeed through 1 free task of the key and 30% refused creates, no task left behind', async () => {
    const jobIds: string[] = [];
    const row = await runScenario(
      lab,
      FILE,
      'shared key: 2 foreign tasks, 30% create 500',
      async (s) => {
        const users = await Promise.all(Array.from({ length: 10 }, () => s.user('key')));
        await Promise.all(
          users.map(async (user) => {
            for (let i = 0; i < 2; i++) {
              const jobId = await s.submit(user);
              s.expect[jobId] = 'succeeded';
              jobIds.push(jobId);
              await waitJob(lab, jobId, undefined, 200_000);
            }
          }),
        );
        const refusals = lab.stack.provider.refusals();
        s.notes.push(`creates answered 421 ×${refusals[421] ?? 0}, 500 ×${refusals[500] ?? 0}`);
      },
      { timeoutMs: 200_000, followUp: false },
    );
    publishRows(FILE, [row]);
    expect(row.violations).toEqual([]);
    expect(row.succeeded).toBe(20);

    // Both refusals really happened: the key was full (421) and the provider refused (500).
    const refusals = lab.stack.provider.refusals();
    expect(refusals[421]).toBeGreaterThan(0);
    expect(refusals[500]).toBeGreaterThan(0);
    // Every task the provider ran belongs to a job that recorded it; none is left queued or running.
    const jobs = await Promise.all(jobIds.map((jobId) => readJob(lab, jobId)));
    const recorded = new Set(jobs.map((job) => job?.providerTaskId));
    const tasks = lab.stack.provider.tasks();
    expect(tasks.filter((task) => task.status === 'QUEUED' || task.status === 'RUNNING')).toEqual([]);
    expect(tasks.filter((task) => !recorded.has(task.taskId)).map((task) => `${task.taskId} ${task.status}`)).toEqual([]);
    expect(tasks).toHaveLength(20);
  }, 300_000);
});
