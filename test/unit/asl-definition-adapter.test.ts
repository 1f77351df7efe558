import { describe, expect, it } from 'vitest';
import { adaptDefinition, NO_CAUSE, NO_ERROR } from '../../local/stepfunctions/definition-adapter';
import { MAX_TIMER_SECONDS } from '../../local/stepfunctions/unsupported';

const FN = 'arn:aws:lambda:us-east-1:123456789012:function:f';
const handlerFor = (name: string) => (name === FN ? 'f' : undefined);

const definition = {
  StartAt: 'Call',
  States: {
    Call: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: FN },
      Retry: [{ ErrorEquals: ['States.ALL'], IntervalSeconds: 2, MaxDelaySeconds: 10 }],
      Next: 'Both',
    },
    Both: {
      Type: 'Parallel',
      Branches: [
        {
          StartAt: 'Wait',
          States: {
            Wait: { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken', TimeoutSecondsPath: '$.t', End: true },
            Inner: { Type: 'Fail' },
          },
        },
      ],
      Next: 'Boom',
    },
    Boom: { Type: 'Fail' },
  },
};

describe('adaptDefinition', () => {
  it('returns the adapted copy and its Task states, and leaves the definition as it was', () => {
    const before = structuredClone(definition);
    const { definition: adapted, taskStates } = adaptDefinition(definition, { retryScale: 0.5, handlerFor });

    expect(definition).toEqual(before);
    expect([...taskStates]).toEqual([
      ['Call', { waitForTaskToken: false }],
      ['Wait', { waitForTaskToken: true }],
    ]);
    const states = adapted.States as Record<string, Record<string, unknown>>;
    expect(states.Call).toMatchObject({
      Parameters: { params: { FunctionName: FN }, timeout: MAX_TIMER_SECONDS },
      TimeoutSecondsPath: '$.timeout',
      Retry: [{ IntervalSeconds: 1, MaxDelaySeconds: 5 }],
    });
    const branch = (states.Both!.Branches as { States: Record<string, Record<string, unknown>> }[])[0]!.States;
    expect(branch.Wait).toMatchObject({ Parameters: { 'params.$': '$', 'timeout.$': '$.t' }, TimeoutSecondsPath: '$.timeout' });
    // Only top-level Fail states get the sentinels.
    expect(branch.Inner).toEqual({ Type: 'Fail' });
    expect(states.Boom).toEqual({ Type: 'Fail', Error: NO_ERROR, Cause: NO_CAUSE });
  });

  it('refuses a Task whose FunctionName has no handler file', () => {
    expect(() => adaptDefinition(definition, { retryScale: 1, handlerFor: () => undefined })).toThrow(
      'Task state Call: no handler file for FunctionName',
    );
  });
});
