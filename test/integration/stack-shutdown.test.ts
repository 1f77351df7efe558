import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import type { Job } from '../../lambdas/domain/jobs';
import { image } from '../support/media';
import { startTestStack } from '../support/started-stack';

describe('stopping the local stack', () => {
  it('leaves the jobs in flight as they were, for the sweeper of the next start, instead of healing them on the way out', async () => {
    // One slot held by a task that never ends, one job waiting behind it.
    const stack = await startTestStack({ MAX_RUNNING: '1' });
    const { api } = stack;
    const png = [{ slot: 'image', contentType: 'image/png', body: await image('png', 10, 10) }];
    const [a, b] = [await api.user(`stop-a-${Date.now()}`, 10), await api.user(`stop-b-${Date.now()}`, 10)];
    stack.provider.hangNextTask();
    const running = await api.submit(a.token, 'upscale-image', png);
    await api.waitForJob(a.token, running, (job: Job) => job.status === 'running');
    const queued = await api.submit(b.token, 'upscale-image', png);
    await api.waitForJob(b.token, queued, (job: Job) => job.status === 'queued');

    // Stopping aborts their executions locally: no rule may hear of that as AWS aborting them.
    await stack.stop();

    const status = async (jobId: string) =>
      (
        await stack.doc.send(
          new GetCommand({ TableName: stack.config.tableName, Key: { pk: `JOB#${jobId}`, sk: 'JOB' }, ConsistentRead: true }),
        )
      ).Item?.status;
    expect(await status(running)).toBe('running');
    expect(await status(queued)).toBe('queued');
  });
});
