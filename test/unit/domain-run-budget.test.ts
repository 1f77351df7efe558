import { describe, expect, it } from 'vitest';
import {
  COLLECT_RETRY,
  FINALIZE_RETRY,
  RUNNING_OVERHEAD_SECONDS,
  retryWaitSeconds,
  runningDeadlineSeconds,
  THROTTLE_RETRY,
} from '../../lambdas/domain/run-budget';

/** The figures run-budget.ts documents, worked by hand: a change to a policy or a timeout must show here. */
describe('the running budget', () => {
  it('sums a Retry block’s waits as interval · rate^k, each capped by its max delay', () => {
    expect(retryWaitSeconds({ maxAttempts: 3, intervalSeconds: 2, backoffRate: 3 })).toBe(2 + 6 + 18);
    expect(retryWaitSeconds({ maxAttempts: 4, intervalSeconds: 5, backoffRate: 2, maxDelaySeconds: 12 })).toBe(5 + 10 + 12 + 12);
    expect(retryWaitSeconds({ maxAttempts: 0, intervalSeconds: 5, backoffRate: 2 })).toBe(0);
  });

  it('waits 181 s on throttles (1, 2 … 30 s), 14 s collecting and 63 s finalizing', () => {
    expect(retryWaitSeconds(THROTTLE_RETRY)).toBe(1 + 2 + 4 + 8 + 16 + 30 * 5);
    expect(retryWaitSeconds(COLLECT_RETRY)).toBe(14);
    expect(retryWaitSeconds(FINALIZE_RETRY)).toBe(63);
  });

  it('gives a running job its run limit plus 3,752 s for the longest legal path after it', () => {
    expect(RUNNING_OVERHEAD_SECONDS).toBe(427 + 337 + 307 + 1521 + 580 + 580);
    expect(runningDeadlineSeconds(900)).toBe(4652);
    expect(runningDeadlineSeconds(0)).toBe(3752);
  });
});
