import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { JobRecord } from '../../lambdas/domain/jobs';
import { type Lab, sleep } from './fault-lab';

/**
 * Checks invariants 2 and 3 every `everyMs` while a scenario runs. Each sample is one Query (one
 * partition, one snapshot): the live index holds exactly the non-terminal jobs, the SLOT partition the held slots.
 */
export function startSampler(lab: Lab, everyMs = 100) {
  const violations: string[] = [];
  let samples = 0;
  let maxRunning = 0;
  let stopped = false;
  const table = lab.stack.config.tableName;
  const loop = (async () => {
    while (!stopped) {
      try {
        const [live, slots] = await Promise.all([
          lab.stack.doc.send(
            new QueryCommand({
              TableName: table,
              IndexName: 'live',
              KeyConditionExpression: 'livePk = :j',
              ExpressionAttributeValues: { ':j': 'JOB' },
            }),
          ),
          lab.stack.doc.send(
            new QueryCommand({
              TableName: table,
              KeyConditionExpression: 'pk = :s',
              ExpressionAttributeValues: { ':s': 'SLOT' },
              ConsistentRead: true,
            }),
          ),
        ]);
        samples++;
        const jobs = (live.Items ?? []) as JobRecord[];
        const perUser = new Map<string, string[]>();
        for (const job of jobs) perUser.set(job.userId, [...(perUser.get(job.userId) ?? []), job.jobId]);
        for (const [userId, ids] of perUser)
          if (ids.length > 1) violations.push(`sample: ${userId} had ${ids.length} active jobs (${ids.join(', ')})`);
        const running = jobs.filter((j) => j.status === 'running').length;
        const held = slots.Items?.length ?? 0;
        maxRunning = Math.max(maxRunning, running, held);
        if (running > lab.maxRunning) violations.push(`sample: ${running} running jobs > MAX_RUNNING ${lab.maxRunning}`);
        if (held > lab.maxRunning) violations.push(`sample: ${held} slots held > MAX_RUNNING ${lab.maxRunning}`);
      } catch (error) {
        violations.push(`sampler failed: ${(error as Error).message}`);
      }
      await sleep(everyMs);
    }
  })();
  return {
    violations,
    get samples() {
      return samples;
    },
    get maxRunning() {
      return maxRunning;
    },
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
