import { describe, expect, it, vi } from 'vitest';
import { BUSY_HOLD_MS } from '../../lambdas/domain/queue';
import { RUNNING_OVERHEAD_SECONDS } from '../../lambdas/domain/run-budget';
import { type DomainSystem, domainSystem } from '../support/domain-system';

/** Admits one job per user (a second apart, so admission order is plain) and parks each execution. */
async function queued(system: DomainSystem, users: string[], { park = true } = {}) {
  const ids: string[] = [];
  for (const user of users) {
    await system.store.seedUser(user, 5);
    const { jobId } = await system.submit(user);
    ids.push(jobId);
    if (park) await system.queue.park(jobId, `wait-${user}`);
    system.clock.advance(1000);
  }
  return ids;
}

const statuses = async (system: DomainSystem, ids: string[]) => Promise.all(ids.map(async (id) => (await system.job(id)).status));

describe('the queue', () => {
  it('grants the oldest waiting job first', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1 });
    const [a, b, c] = (await queued(system, ['ana', 'bia', 'caio'])) as [string, string, string];

    // Act
    await system.lifecycle.succeed(a, []);

    // Assess
    expect(await statuses(system, [a, b, c])).toEqual(['succeeded', 'running', 'queued']);
    expect(system.workflow.resumed).toEqual([
      { token: 'wait-ana', output: { slot: 1 } },
      { token: 'wait-bia', output: { slot: 1 } },
    ]);
  });

  it('starts queued jobs in admission order as slots free up, whatever order their executions parked in', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1 });
    const ids = await queued(system, ['u1', 'u2', 'u3', 'u4'], { park: false });
    for (const [i, id] of [...ids].reverse().entries()) await system.queue.park(id, `wait-${i}`);
    const started: string[] = [];

    // Act
    for (let round = 0; round < ids.length; round++) {
      const running = (await system.store.liveJobs()).find((job) => job.status === 'running');
      started.push(running?.jobId as string);
      await system.lifecycle.succeed(running?.jobId as string, []);
    }

    // Assess
    expect(started).toEqual(ids);
  });

  it('hands a freed slot to the oldest of several waiting jobs', async () => {
    // Prepare
    const system = domainSystem({ capacity: 2 });
    const ids = await queued(system, ['u1', 'u2', 'u3', 'u4']);

    // Act
    await system.lifecycle.succeed(ids[0] as string, []);
    const afterFirst = await statuses(system, ids);
    await system.lifecycle.succeed(ids[1] as string, []);

    // Assess
    expect(afterFirst).toEqual(['succeeded', 'running', 'running', 'queued']);
    expect(await statuses(system, ids)).toEqual(['succeeded', 'succeeded', 'running', 'running']);
  });

  it('grants several free slots oldest first: the oldest job gets the first slot and is woken first', async () => {
    // Prepare
    const system = domainSystem({ capacity: 3 });
    const ids = await queued(system, ['u1', 'u2', 'u3'], { park: false });
    for (const id of ids) await system.store.recordToken(id, 'queued', `wait-${id}`);

    // Act
    const granted = await system.queue.grantNext();

    // Assess
    expect(granted).toBe(3);
    expect(system.workflow.resumed).toEqual(ids.map((id, i) => ({ token: `wait-${id}`, output: { slot: i + 1 } })));
  });

  it('breaks a tie in admission time by job id', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1 });
    await system.store.seedUser('ana', 5);
    await system.store.seedUser('bia', 5);
    await system.store.seedUser('caio', 5);
    const first = await system.submit('ana');
    const second = await system.submit('bia');
    const third = await system.submit('caio');

    // Act
    await system.queue.park(third.jobId, 't3');
    await system.queue.park(second.jobId, 't2');

    // Assess
    expect(await statuses(system, [first.jobId, second.jobId, third.jobId])).toEqual(['running', 'queued', 'queued']);
    expect((await system.queries.getJob('bia', second.jobId)).position).toBe(1);
    expect((await system.queries.getJob('caio', third.jobId)).position).toBe(2);
  });

  it('never runs more jobs than its capacity', async () => {
    // Prepare
    const system = domainSystem({ capacity: 2 });

    // Act
    const ids = await queued(system, ['u1', 'u2', 'u3', 'u4']);

    // Assess
    expect(await statuses(system, ids)).toEqual(['running', 'running', 'queued', 'queued']);
    expect(await system.queue.stats()).toEqual({ capacity: 2, running: 2, queued: 2 });
    expect((await system.job(ids[1] as string)).slot).toBe(2);
  });

  it('gives each waiting job its exact 1-based position, and none once it runs', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1 });
    const users = ['u1', 'u2', 'u3', 'u4'];
    const ids = await queued(system, users);

    // Act
    const positions = await Promise.all(ids.map(async (id, i) => (await system.queries.getJob(users[i] as string, id)).position));
    await system.lifecycle.cancel('u3', ids[2] as string);
    const after = await Promise.all(ids.map(async (id, i) => (await system.queries.getJob(users[i] as string, id)).position));

    // Assess
    expect(positions).toEqual([null, 1, 2, 3]);
    expect(after).toEqual([null, 1, null, 2]);
  });

  it('grants a job with the run limit plus the longest legal overhead as its deadline', async () => {
    // Prepare
    const system = domainSystem({ runSeconds: 300 });

    // Act
    const [id] = await queued(system, ['ana']);

    // Assess
    expect(await system.job(id as string)).toMatchObject({
      status: 'running',
      slot: 1,
      startedAt: '2026-01-01T00:00:00.000Z',
      deadline: new Date(Date.parse('2026-01-01T00:00:00.000Z') + (300 + RUNNING_OVERHEAD_SECONDS) * 1000).toISOString(),
    });
  });

  it('does not wake a granted job that has not parked yet; its park wakes it', async () => {
    // Prepare
    const system = domainSystem();
    const [id] = (await queued(system, ['ana'], { park: false })) as [string];

    // Act
    const granted = await system.queue.grantNext();
    const before = [...system.workflow.resumed];
    await system.queue.park(id, 'late-token');

    // Assess
    expect(granted).toBe(1);
    expect(before).toEqual([]);
    expect(system.workflow.resumed).toEqual([{ token: 'late-token', output: { slot: 1 } }]);
  });

  it('fails the wait of a job that ended before its execution parked', async () => {
    // Prepare
    const system = domainSystem();
    const [id] = (await queued(system, ['ana'], { park: false })) as [string];
    await system.lifecycle.cancel('ana', id);

    // Act
    await system.queue.park(id, 'token');

    // Assess
    expect(system.workflow.failed).toEqual([{ token: 'token', error: 'JobFinished', cause: 'Job is cancelled; nothing to wait for.' }]);
    expect(system.workflow.resumed).toEqual([]);
  });

  it('fails the wait of a job that does not exist', async () => {
    // Prepare
    const system = domainSystem();

    // Act
    await system.queue.park('00000000-0000-4000-8000-000000000999', 'token');

    // Assess
    expect(system.workflow.failed).toEqual([{ token: 'token', error: 'JobFinished', cause: 'Job is missing; nothing to wait for.' }]);
  });

  it('looks again when the head changed under a grant, and grants the next job', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1 });
    const ids = await queued(system, ['u1', 'u2', 'u3']);
    const grant = vi.spyOn(system.store, 'grant');
    // The head is cancelled between the read of the queue and its grant.
    grant.mockImplementationOnce(async (job) => {
      system.store.jobs.get(job.jobId)!.job.status = 'cancelled';
      system.store.queue.delete(`${job.createdAt}#${job.jobId}`);
      return false;
    });

    // Act
    await system.lifecycle.succeed(ids[0] as string, []);

    // Assess
    expect(await statuses(system, ids)).toEqual(['succeeded', 'cancelled', 'running']);
  });

  it('looks again when a grant fails with slots to spare', async () => {
    // Prepare
    const system = domainSystem({ capacity: 3 });
    const ids = await queued(system, ['u1', 'u2'], { park: false });
    vi.spyOn(system.store, 'grant').mockResolvedValueOnce(false);

    // Act
    const granted = await system.queue.grantNext();

    // Assess
    expect(granted).toBe(2);
    expect(await statuses(system, ids)).toEqual(['running', 'running']);
  });

  it('gives up after twenty rounds on a queue that keeps changing, and says so', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1 });
    await queued(system, ['u1'], { park: false });
    const grant = vi.spyOn(system.store, 'grant').mockResolvedValue(false);

    // Act
    const granted = await system.queue.grantNext();

    // Assess
    expect(granted).toBe(0);
    expect(grant).toHaveBeenCalledTimes(20);
    expect(system.logs).toContainEqual({ message: 'grant gave up on a busy queue', fields: { granted: 0 } });
  });

  it('grants nothing when no slot is free or nothing waits', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1 });
    await queued(system, ['u1', 'u2']);

    // Act
    const granted = await system.queue.grantNext();

    // Assess
    expect(granted).toBe(0);
    expect(await system.queue.stats()).toEqual({ capacity: 1, running: 1, queued: 1 });
    expect(system.logs).toEqual([]);
  });

  it('reads the slots once when it granted every waiting job with slots to spare', async () => {
    // Prepare
    const system = domainSystem({ capacity: 3 });
    const [a] = (await queued(system, ['ana'], { park: false })) as [string];
    const freeSlots = vi.spyOn(system.store, 'freeSlots');

    // Act
    const granted = await system.queue.grantNext();

    // Assess
    expect(granted).toBe(1);
    expect(freeSlots).toHaveBeenCalledTimes(1);
    expect((await system.job(a)).status).toBe('running');
  });

  it('measures a hand-off from the moment it saw the free slot to the wake-up of the parked execution', async () => {
    // Prepare
    const handoffs: number[] = [];
    const system = domainSystem({ capacity: 1, recordHandoff: (ms) => void handoffs.push(ms) });
    const [a, b] = (await queued(system, ['ana', 'bia'])) as [string, string];
    const grant = system.store.grant.bind(system.store);
    vi.spyOn(system.store, 'grant').mockImplementation(async (...args) => {
      system.clock.advance(25);
      return grant(...args);
    });

    // Act
    await system.lifecycle.succeed(a, []);

    // Assess
    expect(handoffs).toEqual([0, 25]);
    expect((await system.job(b)).status).toBe('running');
  });
});

describe('yieldSlot', () => {
  it('puts a job the provider key refused back at the head, and holds the slot count at what the key ran', async () => {
    // Prepare
    const system = domainSystem({ capacity: 3 });
    const ids = (await queued(system, ['u1', 'u2', 'u3', 'u4'])) as [string, string, string, string];

    // Act
    const yielded = await system.queue.yieldSlot(await system.job(ids[2]), { keyFull: true });

    // Assess
    expect(yielded).toBe(true);
    expect(await system.store.providerCapacity()).toEqual({
      limit: 2,
      until: new Date(system.clock.now().getTime() + BUSY_HOLD_MS).toISOString(),
    });
    expect(system.logs).toContainEqual({
      message: 'provider key full: job back at the head of the queue',
      fields: { jobId: ids[2], slots: 2 },
    });
    await system.queue.grantNext();
    expect(await statuses(system, ids)).toEqual(['running', 'running', 'queued', 'queued']);
    expect((await system.queries.getJob('u3', ids[2])).position).toBe(1);
  });

  it('probes the key again once the hold has passed', async () => {
    // Prepare
    const system = domainSystem({ capacity: 3 });
    const ids = (await queued(system, ['u1', 'u2', 'u3'])) as [string, string, string];
    await system.queue.yieldSlot(await system.job(ids[2]), { keyFull: true });

    // Act
    system.clock.advance(BUSY_HOLD_MS - 1);
    const during = await system.queue.grantNext();
    system.clock.advance(1);
    const atTheEnd = await system.queue.grantNext();

    // Assess
    expect([during, atTheEnd]).toEqual([0, 1]);
    expect(await statuses(system, ids)).toEqual(['running', 'running', 'running']);
  });

  it('never hands out more than the capacity, whatever the key allowed earlier', async () => {
    // Prepare
    const system = domainSystem({ capacity: 1 });
    await system.store.noteProviderCapacity(5, '2026-01-01T01:00:00.000Z');

    // Act
    const ids = await queued(system, ['u1', 'u2']);

    // Assess
    expect(await statuses(system, ids)).toEqual(['running', 'queued']);
  });

  it('does not lower the slot count when the provider was only unavailable', async () => {
    // Prepare
    const system = domainSystem({ capacity: 2 });
    const ids = (await queued(system, ['u1', 'u2', 'u3'])) as [string, string, string];

    // Act
    const yielded = await system.queue.yieldSlot(await system.job(ids[1]), { keyFull: false });
    await system.queue.grantNext();

    // Assess
    expect(yielded).toBe(true);
    expect(await system.store.providerCapacity()).toBeNull();
    expect(await statuses(system, ids)).toEqual(['running', 'running', 'queued']);
  });

  it('answers false for a job that changed meanwhile, and leaves the slot count alone', async () => {
    // Prepare
    const system = domainSystem();
    const [id] = (await queued(system, ['u1'])) as [string];
    const seen = await system.job(id);
    await system.lifecycle.cancel('u1', id);

    // Act
    const yielded = await system.queue.yieldSlot(seen, { keyFull: true });

    // Assess
    expect(yielded).toBe(false);
    expect(await system.store.providerCapacity()).toBeNull();
  });
});
