import { describe, expect, it } from 'vitest';
import { jobFailureOf } from '../../lambdas/adapters/step-failure';

const lambdaError = (errorType: string, errorMessage: unknown) => JSON.stringify({ errorType, errorMessage, trace: ['at x'] });

describe("reading the state machine's Catch output", () => {
  it('reads timeouts, a provider that refused and any other error by name', () => {
    expect(jobFailureOf({ Error: 'States.Timeout', Cause: 'Task timed out' })).toEqual({ kind: 'timeout' });
    expect(jobFailureOf({ Error: 'QueueTimeout', Cause: 'the queue timeout has passed' })).toEqual({ kind: 'queue-timeout' });
    expect(jobFailureOf({ Error: 'ProviderBusy', Cause: lambdaError('ProviderBusy', 'secret internals') })).toEqual({
      kind: 'provider-refused',
    });
    expect(jobFailureOf({ Error: 'States.TaskFailed' })).toEqual({ kind: 'internal' });
    expect(jobFailureOf({ Error: 'Lambda.Unknown', Cause: 'boom' })).toEqual({ kind: 'internal' });
  });

  it("passes on the provider's failure message from the Lambda error, and nothing else", () => {
    expect(jobFailureOf({ Error: 'ProviderFailed', Cause: lambdaError('ProviderFailed', 'node 12 ran out of memory') })).toEqual({
      kind: 'provider-failed',
      reason: 'node 12 ran out of memory',
    });
    for (const Cause of [undefined, 'not json', lambdaError('ProviderFailed', ''), lambdaError('ProviderFailed', 42), 'null']) {
      expect(jobFailureOf({ Error: 'ProviderFailed', Cause })).toEqual({ kind: 'provider-failed', reason: undefined });
    }
  });
});
