import { describe, expect, it } from 'vitest';
import { credits } from '../../lambdas/domain/credits';
import { InvalidRequest, NotFound } from '../../lambdas/domain/errors';
import { domainSystem } from '../support/domain-system';
import { MemoryStore } from '../support/memory-ports';

describe('credits', () => {
  it('gives a new user the sign-up credits once, whatever is asked first', async () => {
    // Prepare
    const store = new MemoryStore();
    const service = credits(store, 3);

    // Act
    const first = await service.balance('new');
    const second = await service.balance('new');
    const { entries } = await service.entries('new', {});

    // Assess
    expect([first, second]).toEqual([3, 3]);
    expect(entries).toEqual([{ at: expect.any(String), delta: 3, balance: 3, reason: 'signup' }]);
  });

  it('gives nothing when sign-up credits are zero, and reads a missing user as 0', async () => {
    // Prepare
    const store = new MemoryStore();
    const service = credits(store, 0);

    // Act
    const balance = await service.balance('new');

    // Assess
    expect(balance).toBe(0);
    expect(await store.account('new')).toBeNull();
  });

  it('gives no sign-up grant to a user whose balance was set by hand', async () => {
    // Prepare
    const store = new MemoryStore();
    await store.setBalance('ana', 0);
    const service = credits(store, 3);

    // Act
    const balance = await service.balance('ana');

    // Assess
    expect(balance).toBe(0);
  });

  it('pages the ledger newest first, 20 by default, and refuses a limit that is not 1 to 100', async () => {
    // Prepare
    const store = new MemoryStore();
    const service = credits(store, 1);
    for (let i = 0; i < 25; i++) await store.grantCredits('ana', 1, 'operator', { note: `n${i}` });

    // Act
    const page = await service.entries('ana', {});
    const next = await service.entries('ana', { limit: '100', cursor: page.nextCursor as string });
    const one = await service.entries('ana', { limit: '1' });

    // Assess
    expect(page.entries).toHaveLength(20);
    // The sign-up grant lands on the first read, after the operator's grants.
    expect(page.entries.slice(0, 2)).toEqual([
      { at: expect.any(String), delta: 1, balance: 26, reason: 'signup' },
      { at: expect.any(String), delta: 1, balance: 25, reason: 'operator', note: 'n24' },
    ]);
    expect(next.entries.map((e) => e.note)).toEqual(['n5', 'n4', 'n3', 'n2', 'n1', 'n0']);
    expect(next.nextCursor).toBeNull();
    expect(one.entries).toHaveLength(1);
    for (const limit of ['0', '101', '1e1', ' 5', '5.0', '1000', 'x']) {
      await expect(service.entries('ana', { limit })).rejects.toEqual(new InvalidRequest('limit must be a whole number from 1 to 100.'));
    }
  });

  it("grants an operator's credits with the reason, trimmed", async () => {
    // Prepare
    const store = new MemoryStore();
    const service = credits(store, 3);

    // Act
    const answer = await service.operatorGrant('user@example.com', 10, '  Compensação pelo atraso ');

    // Assess
    expect(answer).toEqual({ userId: 'user@example.com', granted: 10, balance: 10 });
    expect((await store.ledger('user@example.com', 5)).entries).toEqual([
      { at: expect.any(String), delta: 10, balance: 10, reason: 'operator', note: 'Compensação pelo atraso' },
    ]);
  });

  it('refuses a malformed operator grant', async () => {
    // Prepare
    const service = credits(new MemoryStore(), 3);
    const cases: [string, number, string, string][] = [
      ['', 1, 'r', 'The user id is 1 to 128 letters, digits or "_.@:-".'],
      ['a b', 1, 'r', 'The user id is 1 to 128 letters, digits or "_.@:-".'],
      ['x'.repeat(129), 1, 'r', 'The user id is 1 to 128 letters, digits or "_.@:-".'],
      ['ana', 0, 'r', 'The amount is a whole number from 1 to 1000000.'],
      ['ana', 1.5, 'r', 'The amount is a whole number from 1 to 1000000.'],
      ['ana', 1_000_001, 'r', 'The amount is a whole number from 1 to 1000000.'],
      ['ana', 1, '   ', 'The reason is 1 to 200 characters.'],
      ['ana', 1, 'r'.repeat(201), 'The reason is 1 to 200 characters.'],
    ];

    // Act
    const answers = await Promise.all(cases.map(([user, amount, note]) => service.operatorGrant(user, amount, note).catch((e) => e)));

    // Assess
    expect(answers).toEqual(cases.map(([, , , message]) => new InvalidRequest(message)));
  });

  it('accepts the largest grant, the longest reason and id, and the id characters allowed', async () => {
    // Prepare
    const service = credits(new MemoryStore(), 0);

    // Act
    const big = await service.operatorGrant(`${'x'.repeat(120)}_.@:-Az9`, 1_000_000, 'r'.repeat(200));

    // Assess
    expect(big.balance).toBe(1_000_000);
  });
});

describe('queries', () => {
  it("shows a user their own job and 404s anyone else's", async () => {
    // Prepare
    const system = domainSystem();
    await system.store.seedUser('ana', 5);
    const { jobId } = await system.submit('ana');

    // Act
    const own = await system.queries.getJob('ana', jobId);
    const theirs = system.queries.getJob('bia', jobId);
    const none = system.queries.getJob('ana', '00000000-0000-4000-8000-000000000999');

    // Assess
    expect(own).toEqual({
      jobId,
      tool: 'upscale-image',
      status: 'queued',
      position: 1,
      params: { scale: 2 },
      createdAt: '2026-01-01T00:00:00.000Z',
      startedAt: null,
      completedAt: null,
      creditCost: 1,
      refunded: false,
      error: null,
      outputs: [],
    });
    await expect(theirs).rejects.toEqual(new NotFound('No job with this id.'));
    await expect(none).rejects.toBeInstanceOf(NotFound);
  });

  it('shows the active job until it ends', async () => {
    // Prepare
    const system = domainSystem();
    await system.store.seedUser('ana', 5);
    const none = await system.queries.activeJob('ana');
    const { jobId } = await system.submit('ana');

    // Act
    const active = await system.queries.activeJob('ana');
    await system.lifecycle.cancel('ana', jobId);
    system.store.users.get('ana')!.activeJobId = jobId;
    const ended = await system.queries.activeJob('ana');

    // Assess
    expect(none).toBeNull();
    expect(active?.jobId).toBe(jobId);
    expect(ended).toBeNull();
  });

  it("lists the user's jobs newest first in pages, and refuses a bad limit", async () => {
    // Prepare
    const system = domainSystem();
    await system.store.seedUser('ana', 5);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { jobId } = await system.submit('ana');
      await system.lifecycle.cancel('ana', jobId);
      ids.push(jobId);
      system.clock.advance(1000);
    }

    // Act
    const first = await system.queries.listJobs('ana', { limit: '2' });
    const rest = await system.queries.listJobs('ana', { cursor: first.nextCursor as string });
    const everything = await system.queries.listJobs('ana', {});

    // Assess
    expect(first.jobs.map((j) => j.jobId)).toEqual([ids[2], ids[1]]);
    expect(rest).toEqual({ jobs: [expect.objectContaining({ jobId: ids[0], status: 'cancelled' })], nextCursor: null });
    expect(everything.jobs).toHaveLength(3);
    for (const limit of ['0', '101', '2.0', '']) {
      await expect(system.queries.listJobs('ana', { limit })).rejects.toEqual(
        new InvalidRequest('limit must be a whole number from 1 to 100.'),
      );
    }
    expect((await system.queries.listJobs('ana', { limit: '100' })).jobs).toHaveLength(3);
    expect((await system.queries.listJobs('ana', { limit: '1' })).jobs).toHaveLength(1);
  });

  it('answers the balance and the ledger', async () => {
    // Prepare
    const system = domainSystem({ signupCredits: 3 });

    // Act
    const balance = await system.queries.credits('new');
    const ledger = await system.queries.ledger('new', { limit: '5' });

    // Assess
    expect(balance).toEqual({ balance: 3 });
    expect(ledger.entries.map((e) => e.reason)).toEqual(['signup']);
  });
});
