import { describe, expect, it } from 'vitest';
import { HANDLER_METADATA } from '../../infra/constructs/ghostless-function';
import { defaultReservedConcurrency, HANDOFF_FUNCTIONS, parseReservedConcurrency } from '../../infra/reserved-concurrency';
import { synth } from '../support/synth';

type FunctionResource = { Metadata?: Record<string, unknown>; Properties: { ReservedConcurrentExecutions?: number } };

/** ReservedConcurrentExecutions of every Ghostless function, by handler file. */
function reservedByHandler(template: ReturnType<typeof synth>['template']) {
  const functions = Object.values(template.findResources('AWS::Lambda::Function')) as FunctionResource[];
  return Object.fromEntries(
    functions
      .filter((fn) => typeof fn.Metadata?.[HANDLER_METADATA] === 'string')
      .map((fn) => [fn.Metadata?.[HANDLER_METADATA] as string, fn.Properties.ReservedConcurrentExecutions]),
  );
}

describe('reserved concurrency', () => {
  it('reserves nothing by default, so that a new account (limit 10, all unreserved) can deploy', () => {
    const reserved = reservedByHandler(synth().template);
    expect(Object.keys(reserved).length).toBeGreaterThanOrEqual(8);
    expect(Object.values(reserved).filter((n) => n !== undefined)).toEqual([]);
  });

  it('reserves the sized amounts for the hand-off functions only, when asked', () => {
    const sizes = parseReservedConcurrency('on', 3);
    const reserved = reservedByHandler(synth({ reservedConcurrency: sizes }).template);
    expect(sizes).toEqual({ 'run-on-provider': 6, finalize: 10, 'wait-for-slot': 10, 'execution-ended': 2 });
    for (const [handler, count] of Object.entries(reserved)) {
      expect(count, handler).toBe((HANDOFF_FUNCTIONS as readonly string[]).includes(handler) ? sizes?.[handler as never] : undefined);
    }
  });

  it('takes some sizes by hand and refuses names and numbers it does not know', () => {
    expect(parseReservedConcurrency('{"finalize":12}', 3)).toEqual({ ...defaultReservedConcurrency(3), finalize: 12 });
    expect(parseReservedConcurrency(undefined, 3)).toBeUndefined();
    expect(parseReservedConcurrency('off', 3)).toBeUndefined();
    expect(() => parseReservedConcurrency('{"api":5}', 3)).toThrow('"api" is not one of wait-for-slot');
    expect(() => parseReservedConcurrency('{"finalize":0}', 3)).toThrow('"finalize" must be a whole number of at least 1');
    expect(() => parseReservedConcurrency('lots', 3)).toThrow('must be on, off or a JSON object');
  });
});
