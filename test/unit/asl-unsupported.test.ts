import '../../local/stepfunctions/polyfill';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import { beforeAll, describe, expect, it } from 'vitest';
import { extractStateMachine, synthesizeTemplate } from '../../local/stepfunctions/template';
import { assertSupported, findUnsupported, UnsupportedDefinitionError } from '../../local/stepfunctions/unsupported';

const FN = 'arn:aws:lambda:us-east-1:123456789012:function:f';
const invoke = (extra: Record<string, unknown> = {}, parameters: Record<string, unknown> = { FunctionName: FN }) => ({
  Type: 'Task',
  Resource: 'arn:aws:states:::lambda:invoke',
  Parameters: parameters,
  End: true,
  ...extra,
});
const callback = (extra: Record<string, unknown> = {}) =>
  invoke(
    { Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken', ...extra },
    { FunctionName: FN, Payload: { 'token.$': '$$.Task.Token' } },
  );
const single = (state: Record<string, unknown>, top: Record<string, unknown> = {}) => ({ StartAt: 'S', States: { S: state }, ...top });
const pass = { Type: 'Pass', End: true };

/** [what, definition, text the finding must contain]. Each one passes the library's own validation. */
const CASES: [string, Record<string, unknown>, string][] = [
  [
    'JSONata machine',
    single({ Type: 'Pass', Output: { x: '{% 1 + 1 %}' }, End: true }, { QueryLanguage: 'JSONata' }),
    'QueryLanguage: "JSONata"',
  ],
  ['JSONata Output', single({ Type: 'Pass', Output: { x: 1 }, End: true }, { QueryLanguage: 'JSONata' }), 'Output'],
  [
    'JSONata Arguments',
    single(
      { Type: 'Task', Resource: 'arn:aws:states:::lambda:invoke', Arguments: { FunctionName: FN }, End: true },
      { QueryLanguage: 'JSONata' },
    ),
    'Arguments',
  ],
  [
    'JSONata Choice Condition',
    {
      QueryLanguage: 'JSONata',
      StartAt: 'C',
      States: { C: { Type: 'Choice', Choices: [{ Condition: '{% true %}', Next: 'P' }], Default: 'P' }, P: pass },
    },
    'Condition',
  ],
  ['Assign variables', { StartAt: 'A', States: { A: { Type: 'Pass', Assign: { v: 1 }, Next: 'P' }, P: pass } }, 'Assign'],
  ['Assign in a Catch', single(invoke({ Catch: [{ ErrorEquals: ['States.ALL'], Next: 'S', Assign: { e: 1 } }] })), 'Assign'],
  ['HeartbeatSeconds', single(callback({ HeartbeatSeconds: 60 })), 'HeartbeatSeconds'],
  ['HeartbeatSecondsPath', single(callback({ HeartbeatSecondsPath: '$.hb' })), 'HeartbeatSecondsPath'],
  ['Credentials', single(invoke({ Credentials: { RoleArn: 'arn:aws:iam::123456789012:role/other' } })), 'Credentials'],
  [
    'SQS integration',
    single(invoke({ Resource: 'arn:aws:states:::sqs:sendMessage' }, { QueueUrl: 'q', MessageBody: 'm' })),
    'sqs:sendMessage',
  ],
  [
    '.sync integration',
    single(invoke({ Resource: 'arn:aws:states:::states:startExecution.sync:2' }, { StateMachineArn: 'x' })),
    'startExecution.sync',
  ],
  ['direct Lambda ARN', single({ Type: 'Task', Resource: FN, End: true }), 'function:f'],
  ['activity', single({ Type: 'Task', Resource: 'arn:aws:states:us-east-1:123456789012:activity:a', End: true }), 'activity'],
  ['async Lambda invoke', single(invoke({}, { FunctionName: FN, InvocationType: 'Event' })), 'InvocationType'],
  [
    'Distributed Map',
    single({
      Type: 'Map',
      ItemReader: { Resource: 'arn:aws:states:::s3:listObjectsV2', Parameters: { Bucket: 'b' } },
      ItemProcessor: { ProcessorConfig: { Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' }, StartAt: 'X', States: { X: pass } },
      End: true,
    }),
    'DISTRIBUTED',
  ],
  [
    'Map tolerance/batching',
    single({
      Type: 'Map',
      ToleratedFailurePercentage: 5,
      ItemBatcher: { MaxItemsPerBatch: 2 },
      ItemProcessor: { StartAt: 'X', States: { X: pass } },
      End: true,
    }),
    'ToleratedFailurePercentage',
  ],
  [
    'unsupported Task nested in a Parallel branch',
    single({ Type: 'Parallel', Branches: [{ StartAt: 'T', States: { T: callback({ HeartbeatSeconds: 5 }) } }], End: true }),
    'Branches[0].States.T.HeartbeatSeconds',
  ],
  ['falsy Pass Result', single({ Type: 'Pass', Result: false, End: true }), 'Result: false'],
  ['ResultPath "$"', single({ Type: 'Pass', Result: { x: 1 }, ResultPath: '$', End: true }), 'ResultPath: "$"'],
  ['Catch ResultPath "$"', single(invoke({ Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$', Next: 'S' }] })), 'ResultPath: "$"'],
  ['$$.State context', single({ Type: 'Pass', Parameters: { 'name.$': '$$.State.Name' }, End: true }), '$$.State.Name'],
  [
    'task token outside a callback task',
    single(invoke({}, { FunctionName: FN, Payload: { 'token.$': '$$.Task.Token' } })),
    '$$.Task.Token',
  ],
  ['execution timeout beyond a Node timer', single(pass, { TimeoutSeconds: 31_536_000 }), 'TimeoutSeconds'],
  ['Wait beyond a Node timer', single({ Type: 'Wait', Seconds: 3_000_000, End: true }), 'Seconds'],
];

describe('assertSupported', () => {
  let real: Record<string, unknown>;
  beforeAll(async () => {
    ({ definition: real } = extractStateMachine(await synthesizeTemplate()));
  });

  it('accepts the synthesized Ghostless state machine', () => {
    expect(findUnsupported(real)).toEqual([]);
    expect(() => assertSupported(real)).not.toThrow();
  });

  it('accepts the usual JSONPath constructs', () => {
    const definition = {
      StartAt: 'T',
      TimeoutSeconds: 3600,
      States: {
        T: callback({
          TimeoutSecondsPath: '$.t',
          ResultPath: '$.r',
          ResultSelector: { 'a.$': '$.x' },
          End: undefined,
          Next: 'C',
          Retry: [{ ErrorEquals: ['States.ALL'], MaxDelaySeconds: 60 }],
          Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.e', Next: 'F' }],
        }),
        C: { Type: 'Choice', Choices: [{ Variable: '$.r', IsPresent: true, Next: 'M' }], Default: 'F' },
        M: {
          Type: 'Map',
          ItemsPath: '$.items',
          ItemSelector: { 'i.$': '$$.Map.Item.Value' },
          ItemProcessor: { StartAt: 'I', States: { I: invoke({ TimeoutSeconds: 30 }) } },
          Next: 'W',
        },
        W: { Type: 'Wait', SecondsPath: '$.s', Next: 'P' },
        P: { Type: 'Pass', Result: { ok: true }, ResultPath: '$.p', Next: 'D' },
        D: { Type: 'Succeed' },
        F: { Type: 'Fail', Error: 'X', Cause: 'y' },
      },
    };
    expect(findUnsupported(definition)).toEqual([]);
  });

  it.each(CASES)('refuses %s (which the library itself accepts)', (_what, definition, text) => {
    expect(() => new StateMachine(definition as unknown as StateMachineDefinition)).not.toThrow();
    let thrown: unknown;
    try {
      assertSupported(definition);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(UnsupportedDefinitionError);
    expect((thrown as Error).message).toContain(text);
  });

  it('lists every finding at once', () => {
    const definition = single(
      callback({ HeartbeatSeconds: 5, Credentials: { RoleArn: 'arn:aws:iam::123456789012:role/r' }, ResultPath: '$' }),
    );
    const findings = findUnsupported(definition).map((f) => f.construct);
    expect(findings).toEqual(expect.arrayContaining(['HeartbeatSeconds', 'Credentials', 'ResultPath: "$"']));
    expect(() => assertSupported(definition)).toThrow(/3 construct\(s\)/);
  });
});
