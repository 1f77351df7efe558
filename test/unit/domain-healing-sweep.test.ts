import { describe, expect, it, vi } from 'vitest';
import { waitingJob } from '../../bench/support';
import { type DomainSystem, domainSystem } from '../support/domain-system';

const GRACE = 120_000;

/** Jobs of users u1…un, admitted and waiting (capacity 0: nothing is granted), all past their grace. */
async function waitingPastGrace(system: DomainSystem, count: number) {
  const ids: string[] = [];
  for (let i = 1; i <= count; i++) {
    await system.store.seedUser(`u${i}`, 5);
    ids.push((await system.submit(`u${i}`)).jobId);
    system.clock.advance(1);
  }
  system.clock.advance(GRACE);
  return ids;
}

/** Step Functions' ListExecutions, as the AWS workflow adapter offers it (the memory one does not). */
const listing = (system: DomainSystem, running: () => Promise<Set<string>>) => Object.assign(system.workflow, { runningJobIds: running });

describe('how a sweep looks at executions', () => {
  it('describes only the jobs whose execution the listing does not show, and counts each', async () => {
    // Prepare
    const system = domainSystem({ capacity: 0 });
    const [a, b, c] = (await waitingPastGrace(system, 3)) as [string, string, string];
    listing(system, async () => new Set([a, c]));
    const status = vi.spyOn(system.workflow, 'status');

    // Act
    const { repairs, scan } = await system.healing.sweep();

    // Assess
    expect(status.mock.calls).toEqual([[b]]);
    expect(scan).toEqual({ examined: 3, listed: 2, described: 1, deferred: 0, failed: 0 });
    expect(repairs).toEqual({});
  });

  it('describes every job, saying why, when the listing fails', async () => {
    // Prepare
    const system = domainSystem({ capacity: 0 });
    await waitingPastGrace(system, 2);
    listing(system, async () => Promise.reject(new Error('ThrottlingException')));

    // Act
    const { scan } = await system.healing.sweep();

    // Assess
    expect(scan).toEqual({ examined: 2, listed: 0, described: 2, deferred: 0, failed: 0 });
    expect(system.logs).toContainEqual({
      message: 'listing running executions failed; describing each job',
      fields: { error: 'ThrottlingException' },
    });
  });

  it('heals no more jobs than its describe budget allows, deferring the rest', async () => {
    // Prepare
    const system = domainSystem({ capacity: 0, describeBudget: 2 });
    const ids = await waitingPastGrace(system, 3);
    for (const jobId of ids) system.workflow.executions.set(jobId, 'FAILED');

    // Act
    const first = await system.healing.sweep();
    const second = await system.healing.sweep();

    // Assess
    expect(first.repairs).toEqual({ queued_without_driver: 2 });
    expect(first.scan).toEqual({ examined: 3, listed: 0, described: 2, deferred: 1, failed: 0 });
    expect(second.repairs).toEqual({ queued_without_driver: 1 });
    expect(await Promise.all(ids.map(async (id) => (await system.job(id)).status))).toEqual(['failed', 'failed', 'failed']);
  });

  it('spends each sweep’s budget on the jobs described least recently', async () => {
    // Prepare
    const system = domainSystem({ capacity: 0, describeBudget: 1 });
    const ids = await waitingPastGrace(system, 3);
    const status = vi.spyOn(system.workflow, 'status');

    // Act
    for (let sweep = 0; sweep < 4; sweep++) {
      await system.healing.sweep();
      system.clock.advance(60_000);
    }

    // Assess
    expect(status.mock.calls.map(([jobId]) => jobId)).toEqual([ids[0], ids[1], ids[2], ids[0]]);
  });

  it('uses a hundred describes per sweep unless told otherwise', async () => {
    // Prepare: 101 admitted jobs past their grace whose executions never started.
    const system = domainSystem({ capacity: 0 });
    for (let i = 0; i < 101; i++) {
      await system.store.seedUser(`u${i}`, 5);
      await system.store.admit(waitingJob(`u${i}`, system.clock.now().toISOString()));
    }
    system.clock.advance(GRACE);

    // Act
    const { repairs, scan } = await system.healing.sweep();

    // Assess
    expect(scan).toEqual({ examined: 101, listed: 0, described: 100, deferred: 1, failed: 0 });
    expect(repairs).toEqual({ queued_without_driver: 100 });
  });

  it('keeps examining the other jobs when one cannot be examined, and says which', async () => {
    // Prepare
    const system = domainSystem({ capacity: 0 });
    const [a, b] = (await waitingPastGrace(system, 2)) as [string, string];
    system.workflow.executions.set(b, 'ABORTED');
    const status = system.workflow.status.bind(system.workflow);
    vi.spyOn(system.workflow, 'status').mockImplementation(async (jobId) =>
      jobId === a ? Promise.reject(new Error('ThrottlingException')) : status(jobId),
    );

    // Act
    const { repairs, scan } = await system.healing.sweep();

    // Assess
    expect(repairs).toEqual({ queued_without_driver: 1 });
    expect(scan).toMatchObject({ examined: 2, described: 2, failed: 1 });
    expect(system.logs).toContainEqual({ message: 'examining a job failed', fields: { jobId: a, error: 'ThrottlingException' } });
    expect(system.logs).toContainEqual({ message: 'healing job', fields: { jobId: b, status: 'queued', repair: 'queued_without_driver' } });
    expect((await system.job(a)).status).toBe('queued');
  });
});

describe('what a sweep releases and tidies', () => {
  it('touches neither the slot nor the lock of a job it lists as live', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1 });
    await system.store.seedUser('ana', 5);
    const { jobId } = await system.submit('ana');
    await system.queue.grantNext();
    const releaseSlot = vi.spyOn(system.store, 'releaseSlot');
    const getJob = vi.spyOn(system.store, 'getJob');

    // Act
    const { repairs } = await system.healing.sweep();

    // Assess
    expect(repairs).toEqual({});
    expect(releaseSlot).not.toHaveBeenCalled();
    expect(getJob).not.toHaveBeenCalled();
    expect(await system.store.heldSlots()).toEqual([{ slot: 1, jobId }]);
  });

  it('keeps the lock of a job that is live though not in the live list it read', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1 });
    await system.store.seedUser('ana', 5);
    const { jobId } = await system.submit('ana');
    vi.spyOn(system.store, 'liveJobs').mockResolvedValue([]);

    // Act
    const { repairs } = await system.healing.sweep();

    // Assess
    expect(repairs).not.toHaveProperty('lock_leak');
    expect(await system.store.heldLocks()).toEqual([{ userId: 'ana', jobId }]);
  });

  it('prunes the queue counters up to now', async () => {
    // Prepare
    const system = domainSystem();
    system.clock.advance(42_000);
    const prune = vi.spyOn(system.store, 'pruneQueueCounters');

    // Act
    await system.healing.sweep();

    // Assess
    expect(prune.mock.calls).toEqual([[new Date('2026-01-01T00:00:42.000Z')]]);
  });

  it('finishes the sweep when releasing, checking, granting and pruning fail, logging each', async () => {
    // Prepare
    const system = domainSystem();
    system.store.slots.set(2, '00000000-0000-4000-8000-000000000998');
    await system.store.seedUser('caio', 5);
    system.store.users.get('caio')!.activeJobId = '00000000-0000-4000-8000-000000000999';
    vi.spyOn(system.store, 'releaseSlot').mockRejectedValue(new Error('slot write failed'));
    vi.spyOn(system.store, 'getJob').mockRejectedValue(new Error('read failed'));
    vi.spyOn(system.store, 'freeSlots').mockRejectedValue(new Error('grant failed'));
    vi.spyOn(system.store, 'pruneQueueCounters').mockRejectedValue(new Error('prune failed'));

    // Act
    const { repairs, scan } = await system.healing.sweep();

    // Assess
    expect(repairs).toEqual({});
    expect(scan.failed).toBe(4);
    expect(system.logs).toEqual([
      {
        message: 'releasing a slot failed',
        fields: { slot: 2, jobId: '00000000-0000-4000-8000-000000000998', error: 'slot write failed' },
      },
      {
        message: 'checking a lock failed',
        fields: { userId: 'caio', jobId: '00000000-0000-4000-8000-000000000999', error: 'read failed' },
      },
      { message: 'granting failed', fields: { error: 'grant failed' } },
      { message: 'pruning queue counters failed', fields: { error: 'prune failed' } },
    ]);
  });
});

describe('lost admissions with several inputs', () => {
  it('waits for an input still missing and counts nothing', async () => {
    // Prepare
    const system = domainSystem();
    await system.store.seedUser('ana', 5);
    const { jobId, keys } = await system.upload('ana', { tool: 'pose-changer', slots: ['person', 'pose'] });
    system.files.objects.delete(keys[1] as string);
    const onInputStored = vi.spyOn(system.admission, 'onInputStored');
    system.clock.advance(GRACE);

    // Act
    const { repairs } = await system.healing.sweep();

    // Assess
    expect(repairs).toEqual({});
    expect(onInputStored).not.toHaveBeenCalled();
    expect((await system.store.pendingIntents()).map((p) => p.intent.jobId)).toEqual([jobId]);
    expect(system.logs).toEqual([]);
  });

  it('gives the input stored last its own grace before re-driving', async () => {
    // Prepare
    const system = domainSystem();
    await system.store.seedUser('ana', 5);
    const { keys } = await system.upload('ana', { tool: 'pose-changer', slots: ['person', 'pose'] });
    system.clock.advance(GRACE);
    system.files.put(keys[1] as string, system.files.objects.get(keys[1] as string)?.bytes as Uint8Array);
    const onInputStored = vi.spyOn(system.admission, 'onInputStored');

    // Act
    const early = await system.healing.sweep();
    system.clock.advance(GRACE);
    const due = await system.healing.sweep();

    // Assess
    expect(early.repairs).toEqual({});
    expect(due.repairs).toMatchObject({ lost_admission: 1 });
    expect(onInputStored.mock.calls).toEqual([[keys[0]], [keys[1]]]);
  });
});
