import { describe, expect, it } from 'vitest';
import { newUser, submit, testStack } from '../support/emulator-stack';
import { image } from '../support/media';

/**
 * The effective slot count follows what the shared provider key said it can run (its last 421/415, noted with an
 * expiry) and is never above MAX_RUNNING, whatever the key's answer.
 */

/** A fresh table with `maxRunning` slots and `count` queued jobs (FIFO order), nothing granted yet. */
async function queueOf(maxRunning: number, count: number) {
  const stack = await testStack({ maxRunning });
  const { store, credits, queue } = stack.services;
  const png = await image();
  const jobIds: string[] = [];
  for (let i = 0; i < count; i++) {
    const userId = newUser();
    await credits.setBalance(userId, 10);
    jobIds.push((await submit(stack, userId, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: png }])).jobId);
  }
  const statuses = async () => Promise.all(jobIds.map(async (jobId) => (await store.getJob(jobId))?.status));
  return { store, queue, statuses };
}

const inFuture = () => new Date(Date.now() + 3_600_000).toISOString();

describe('the slot count under a shared provider key', () => {
  it('never grants above MAX_RUNNING, even when the key answered it could run more', async () => {
    const { store, queue, statuses } = await queueOf(2, 4);
    await store.noteProviderCapacity(5, inFuture());
    expect(await queue.grantNext()).toBe(2);
    expect(await statuses()).toEqual(['running', 'running', 'queued', 'queued']);
  });

  it('grants only what the key can run while its answer holds, oldest first', async () => {
    const { store, queue, statuses } = await queueOf(3, 3);
    await store.noteProviderCapacity(1, inFuture());
    expect(await queue.grantNext()).toBe(1);
    expect(await queue.grantNext()).toBe(0);
    expect(await statuses()).toEqual(['running', 'queued', 'queued']);
  });

  it('grants up to MAX_RUNNING again once the key’s answer has aged', async () => {
    const { store, queue, statuses } = await queueOf(3, 4);
    await store.noteProviderCapacity(0, inFuture());
    expect(await queue.grantNext()).toBe(0);
    await store.noteProviderCapacity(0, new Date(Date.now() - 1).toISOString());
    expect(await queue.grantNext()).toBe(3);
    expect(await statuses()).toEqual(['running', 'running', 'running', 'queued']);
  });
});
