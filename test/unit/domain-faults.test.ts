import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { arm, checkpoint, clearFirings, disarm, firings, onArmedChange, SimulatedCrash } from '../../lambdas/domain/faults';

// The registry is shared by every file of a run without isolation: start and end with a clean one.
beforeEach(() => {
  disarm();
  clearFirings();
});
afterEach(() => {
  disarm();
  clearFirings();
});

describe('fault points', () => {
  it('does nothing at a point nobody armed', () => {
    expect(checkpoint('grant:after-commit', 'job')).toBeUndefined();
    arm('sweep:start', { action: 'crash' });
    expect(checkpoint('grant:after-commit', 'job')).toBeUndefined();
    expect(firings()).toEqual([]);
  });

  it('crashes once where armed, then disarms itself', async () => {
    // Prepare
    arm('admit:after-commit', { action: 'crash' });

    // Act
    const first = checkpoint('admit:after-commit', 'job-1');
    const second = checkpoint('admit:after-commit', 'job-1');

    // Assess
    await expect(first).rejects.toEqual(new SimulatedCrash('admit:after-commit'));
    await expect(first).rejects.toMatchObject({
      name: 'SimulatedCrash',
      point: 'admit:after-commit',
      message: 'Simulated crash at admit:after-commit',
    });
    expect(second).toBeUndefined();
    expect(firings()).toEqual([{ point: 'admit:after-commit', subject: 'job-1', action: 'crash', at: expect.any(Number) }]);
  });

  it('fires as many times as asked, only for its subject, with its own error', async () => {
    // Prepare
    arm('finalize:after-commit', { action: 'crash', times: 2, subject: 'a', error: () => new Error('boom') });

    // Act
    const other = checkpoint('finalize:after-commit', 'b');
    const results = [
      checkpoint('finalize:after-commit', 'a'),
      checkpoint('finalize:after-commit', 'a'),
      checkpoint('finalize:after-commit', 'a'),
    ];

    // Assess
    expect(other).toBeUndefined();
    await expect(results[0]).rejects.toThrow('boom');
    await expect(results[1]).rejects.toThrow('boom');
    expect(results[2]).toBeUndefined();
    expect(firings('finalize:after-commit')).toHaveLength(2);
    expect(firings('sweep:start')).toEqual([]);
  });

  it('takes a predicate as the subject and a fixed error', async () => {
    // Prepare
    const error = new Error('fixed');
    arm('run:after-create', { action: 'crash', subject: (s) => s?.startsWith('x') === true, error });

    // Act
    const skipped = checkpoint('run:after-create', 'y1');
    const fired = checkpoint('run:after-create', 'x1');

    // Assess
    expect(skipped).toBeUndefined();
    await expect(fired).rejects.toBe(error);
  });

  it('delays by the given time, or a second by default', async () => {
    vi.useFakeTimers();
    try {
      // Prepare
      arm('grant:after-commit', { action: 'delay', delayMs: 50 });
      arm('sweep:start', { action: 'delay' });
      let done = 0;

      // Act
      void checkpoint('grant:after-commit')?.then(() => done++);
      void checkpoint('sweep:start')?.then(() => done++);
      await vi.advanceTimersByTimeAsync(49);
      const early = done;
      await vi.advanceTimersByTimeAsync(1);
      const afterFifty = done;
      await vi.advanceTimersByTimeAsync(949);
      const beforeSecond = done;
      await vi.advanceTimersByTimeAsync(1);

      // Assess
      expect([early, afterFifty, beforeSecond, done]).toEqual([0, 1, 1, 2]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('fires the first matching spec of several on one point', async () => {
    // Prepare
    arm('sweep:start', { action: 'crash', subject: 'a', error: new Error('first') });
    arm('sweep:start', { action: 'crash', error: new Error('second'), times: Number.POSITIVE_INFINITY });

    // Act
    const forA = checkpoint('sweep:start', 'a');
    const forB = checkpoint('sweep:start', 'b');
    const forAAgain = checkpoint('sweep:start', 'a');

    // Assess
    await expect(forA).rejects.toThrow('first');
    await expect(forB).rejects.toThrow('second');
    await expect(forAAgain).rejects.toThrow('second');
  });

  it('disarms one spec, one point, or every point, and tells listeners the armed points', () => {
    // Prepare
    const seen: string[][] = [];
    const stop = onArmedChange((points) => seen.push(points));

    // Act
    const undo = arm('sweep:start', { action: 'crash' });
    const undoOther = arm('sweep:start', { action: 'crash', subject: 'z' });
    arm('grant:after-commit', { action: 'crash' });
    undo();
    undo();
    undoOther();
    disarm('grant:after-commit');
    arm('admit:before-commit', { action: 'crash' });
    disarm();
    stop();
    arm('sweep:start', { action: 'crash' });

    // Assess
    expect(seen).toEqual([
      [],
      ['sweep:start'],
      ['sweep:start'],
      ['sweep:start', 'grant:after-commit'],
      ['sweep:start', 'grant:after-commit'],
      ['grant:after-commit'],
      [],
      ['admit:before-commit'],
      [],
    ]);
    expect(checkpoint('grant:after-commit')).toBeUndefined();
  });

  it('disarms only the point named, and a spec already disarmed is a no-op', async () => {
    // Prepare
    const undo = arm('sweep:start', { action: 'crash' });
    arm('grant:after-commit', { action: 'crash', error: new Error('still armed') });

    // Act
    disarm('sweep:start');
    undo();

    // Assess
    expect(checkpoint('sweep:start')).toBeUndefined();
    await expect(checkpoint('grant:after-commit')).rejects.toThrow('still armed');
  });

  it('tells listeners when a spec used itself up', async () => {
    // Prepare
    const seen: string[][] = [];
    arm('sweep:start', { action: 'crash' });
    const stop = onArmedChange((points) => seen.push(points));

    // Act
    await checkpoint('sweep:start')?.catch(() => undefined);
    stop();

    // Assess
    expect(seen).toEqual([['sweep:start'], []]);
  });

  it('forgets firings on request', async () => {
    // Prepare
    arm('sweep:start', { action: 'crash' });
    await checkpoint('sweep:start')?.catch(() => undefined);

    // Act
    clearFirings();

    // Assess
    expect(firings()).toEqual([]);
  });

  it('asks the bridge of a local Lambda sandbox instead of its own registry', async () => {
    // Prepare
    const registry = (globalThis as Record<symbol, { bridge?: unknown }>)[Symbol.for('ghostless.faults')] as { bridge?: unknown };
    const answer = Promise.resolve();
    const bridge = vi.fn(() => answer);
    registry.bridge = bridge;
    try {
      // Act
      const result = checkpoint('sfn:start-execution', 'job');

      // Assess
      expect(result).toBe(answer);
      expect(bridge).toHaveBeenCalledWith('sfn:start-execution', 'job');
    } finally {
      delete registry.bridge;
    }
  });
});
