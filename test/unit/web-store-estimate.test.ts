import { describe, expect, it } from 'vitest';
import type { Job } from '../../lambdas/domain/jobs';
import { leftMs, typicalRunMs, waitMs } from '../../web/src/estimate';
import { createStore, watch } from '../../web/src/store';

/** The web app's two pure parts: the store views subscribe to, and the wait estimate. */

describe('store', () => {
  it('merges updates, notifies subscribers, and re-renders a view only when its key changes', () => {
    const store = createStore({ a: 1, b: 'x' });
    const seen: number[] = [];
    const unsubscribe = store.subscribe((s) => seen.push(s.a));
    const renders: string[] = [];
    watch(
      store,
      (s) => s.b,
      (s) => renders.push(s.b),
    );
    store.set({ a: 2 });
    store.set((s) => ({ a: s.a + 1, b: 'y' }));
    unsubscribe();
    store.set({ a: 9 });
    expect(store.get()).toEqual({ a: 9, b: 'y' });
    expect(seen).toEqual([2, 3]);
    expect(renders).toEqual(['x', 'y']); // not re-rendered for a change of `a` alone
  });
});

const run = (tool: Job['tool'], seconds: number, status: Job['status'] = 'succeeded') =>
  ({
    tool,
    status,
    startedAt: '2026-01-01T00:00:00.000Z',
    completedAt: new Date(Date.parse('2026-01-01T00:00:00.000Z') + seconds * 1000).toISOString(),
  }) as Job;

describe('wait estimate', () => {
  it('takes the median run time of the same tool, robust to one stuck run', () => {
    const jobs = [run('try-on', 30), run('try-on', 40), run('try-on', 900), run('upscale-image', 5)];
    expect(typicalRunMs(jobs, 'try-on')).toBe(40_000);
  });

  it('falls back on every tool, ignores failed and unfinished jobs, and makes nothing up without data', () => {
    const jobs = [run('upscale-image', 4), run('upscale-image', 6), run('pose-changer', 500, 'failed')];
    expect(typicalRunMs(jobs, 'pose-changer')).toBe(5_000);
    expect(typicalRunMs([run('try-on', 10, 'cancelled')], 'try-on')).toBeNull();
    expect(typicalRunMs([], 'try-on')).toBeNull();
  });

  it('counts the runs that finish before a place in line starts, and the time left of a running job', () => {
    expect(waitMs(1, 3, 60_000)).toBe(60_000);
    expect(waitMs(4, 3, 60_000)).toBe(120_000);
    expect(waitMs(6, 3, 60_000)).toBe(120_000);
    expect(leftMs(20_000, 60_000)).toBe(40_000);
    expect(leftMs(61_000, 60_000)).toBeNull();
  });
});
