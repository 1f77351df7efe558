/**
 * Amazon EventBridge event patterns, as the EventBridge user guide documents them ("Event patterns",
 * "Content filtering", "Arrays", "Null values and empty strings") and as AWS's own matcher (aws/event-ruler)
 * behaves where the guide is silent. The local stack routes the template's `AWS::Events::Rule` patterns through
 * this, so a pattern that would not fire on AWS must not fire here either.
 *
 * Known local differences (none of them reachable from patterns CDK synthesizes):
 * - Values are compared after JSON.parse, so 300 and 300.0 are one number (the guide says AWS compares exact
 *   numbers by their text; event-ruler also adds a numeric comparison, which is what this does).
 * - Exact string values that happen to be IP addresses are compared as text (event-ruler normalises them).
 * - Case folding uses JavaScript's toLowerCase (event-ruler folds with Java's rules).
 */
import {
  affix,
  affixArgument,
  anythingBut,
  cidr,
  equalsIgnoreCase,
  exact,
  isObject,
  type Json,
  type Leaf,
  numeric,
  type Test,
  wildcard,
} from './pattern-operators';

/** Thrown for a malformed pattern; PutRule answers such a pattern with InvalidEventPatternException. */
export class InvalidEventPatternError extends Error {
  override name = 'InvalidEventPatternError';
  constructor(
    readonly reason: string,
    /** Dotted path of the offending field, '' for the whole pattern. */
    readonly path: string,
  ) {
    super(`Event pattern is not valid. Reason: ${reason}${path ? ` (at ${path})` : ''}`);
  }
}

const OPERATORS = ['prefix', 'suffix', 'anything-but', 'numeric', 'exists', 'cidr', 'equals-ignore-case', 'wildcard'];

/** One field's array: the field matches if any entry matches. `exists` looks at the field, not at one value. */
interface LeafRule {
  exists?: boolean[];
  tests: Test[];
}
interface ObjectRule {
  fields: [key: string, rule: LeafRule | ObjectRule][];
  /** Each `$or` array: at least one of its branches must match the same object. */
  ors: ObjectRule[][];
}
export type CompiledEventPattern = (event: unknown) => boolean;

const isLeaf = (v: unknown): v is Leaf => v === null || ['string', 'number', 'boolean'].includes(typeof v);
const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

/** Throws InvalidEventPatternError when PutRule would refuse the pattern (an object, or its JSON text). */
export function validateEventPattern(pattern: unknown): void {
  compileEventPattern(pattern);
}

/** Validates once and returns a matcher; use it when one rule sees many events. */
export function compileEventPattern(pattern: unknown): CompiledEventPattern {
  let parsed = pattern;
  if (typeof pattern === 'string') {
    try {
      parsed = JSON.parse(pattern);
    } catch (error) {
      throw new InvalidEventPatternError(`not valid JSON: ${(error as Error).message}`, '');
    }
  }
  if (!isObject(parsed)) throw new InvalidEventPatternError('Filter is not an object', '');
  const rule = compileObject(parsed, '', false);
  return (event) => matchObject(rule, event);
}

/** Whether EventBridge would deliver `event` to a rule with `pattern`. Throws on a malformed pattern. */
export function matchesEventPattern(pattern: unknown, event: unknown): boolean {
  return compileEventPattern(pattern)(event);
}

// ---------------------------------------------------------------------------------------------------- compile

function compileObject(pattern: Json, path: string, insideOr: boolean): ObjectRule {
  const rule: ObjectRule = { fields: [], ors: [] };
  const entries = Object.entries(pattern);
  if (entries.length === 0) throw new InvalidEventPatternError('Empty objects are not allowed', path);
  for (const [key, value] of entries) {
    const at = join(path, key);
    if (key === '$or') {
      rule.ors.push(compileOr(value, path));
      continue;
    }
    // Inside $or an operator name as a field is almost surely a misplaced operator; event-ruler refuses it.
    if (insideOr && OPERATORS.includes(key)) {
      throw new InvalidEventPatternError(`${key} is a reserved field name which cannot be used inside $or`, at);
    }
    if (Array.isArray(value)) rule.fields.push([key, compileLeaf(value, at)]);
    else if (isObject(value)) rule.fields.push([key, compileObject(value, at, insideOr)]);
    else throw new InvalidEventPatternError(`"${key}" must be an object or an array`, at);
  }
  return rule;
}

function compileOr(value: unknown, path: string): ObjectRule[] {
  const at = join(path, '$or');
  if (!Array.isArray(value)) throw new InvalidEventPatternError('$or must be followed by an array', at);
  if (value.some((branch) => !isObject(branch))) {
    throw new InvalidEventPatternError('Only JSON objects are allowed in the array of $or', at);
  }
  if (value.length < 2) throw new InvalidEventPatternError('There must be at least 2 objects in $or', at);
  // Branches share the enclosing path: $or is not a field of the event.
  return value.map((branch) => compileObject(branch as Json, path, true));
}

function compileLeaf(values: unknown[], path: string): LeafRule {
  if (values.length === 0) throw new InvalidEventPatternError('Empty arrays are not allowed', path);
  const rule: LeafRule = { tests: [] };
  for (const value of values) {
    if (isObject(value)) {
      const compiled = compileExpression(value, path);
      if (typeof compiled === 'boolean') {
        rule.exists ??= [];
        rule.exists.push(compiled);
      } else rule.tests.push(compiled);
    } else if (isLeaf(value)) {
      rule.tests.push(exact(value));
    } else {
      throw new InvalidEventPatternError('Match value must be String, number, true, false, or null', path);
    }
  }
  return rule;
}

/** A `{ "operator": … }` entry: a value test, or the boolean of an `exists` test. */
function compileExpression(expression: Json, path: string): Test | boolean {
  const keys = Object.keys(expression);
  if (keys.length === 0) throw new InvalidEventPatternError('Match expression name not found', path);
  if (keys.length > 1) throw new InvalidEventPatternError('Only one key allowed in match expression', path);
  const operator = keys[0] as string;
  const arg = expression[operator];
  const fail = (reason: string): never => {
    throw new InvalidEventPatternError(reason, path);
  };
  switch (operator) {
    case 'prefix':
    case 'suffix': {
      const { text, ignoreCase } = affixArgument(operator, arg, fail);
      return affix(operator, text, ignoreCase);
    }
    case 'equals-ignore-case': {
      if (typeof arg !== 'string') fail('equals-ignore-case match pattern must be a string');
      return equalsIgnoreCase(arg as string);
    }
    case 'wildcard':
      if (typeof arg !== 'string') fail('wildcard match pattern must be a string');
      return wildcard(arg as string, fail);
    case 'anything-but':
      return anythingBut(arg, fail);
    case 'numeric':
      return numeric(arg, fail);
    case 'exists':
      if (typeof arg !== 'boolean') fail('exists match pattern must be either true or false');
      return arg as boolean;
    case 'cidr':
      if (typeof arg !== 'string') fail('cidr match pattern must be a string');
      return cidr(arg as string, fail);
    default:
      // A template pattern still holding {"Ref": …} or {"Fn::…": …} has not been resolved against the stack.
      if (operator === 'Ref' || operator.startsWith('Fn::')) fail(`Unresolved CloudFormation intrinsic ${operator}: resolve it first`);
      return fail(`Unrecognized match type ${operator}`);
  }
}

/**
 * An object pattern applies to one object of the event. When the event holds an array there, each element is
 * tried on its own, so two fields can only match inside the same element (event-ruler's array consistency).
 */
function matchObject(rule: ObjectRule, value: unknown): boolean {
  const candidates = Array.isArray(value) ? value.flat(Number.POSITIVE_INFINITY) : [value];
  // An empty array holds no fields; `exists: false` underneath it must still be able to match.
  if (candidates.length === 0) candidates.push(undefined);
  return candidates.some((candidate) => {
    const fields = isObject(candidate) ? candidate : {};
    const own = (key: string) => (Object.hasOwn(fields, key) ? fields[key] : undefined);
    return (
      rule.fields.every(([key, sub]) => ('tests' in sub ? matchLeaf(sub, own(key)) : matchObject(sub, own(key)))) &&
      rule.ors.every((branches) => branches.some((branch) => matchObject(branch, candidate)))
    );
  });
}

/** An event array matches when any element does; only JSON leaves (not objects) are values. */
function matchLeaf(rule: LeafRule, value: unknown): boolean {
  const values = (Array.isArray(value) ? value.flat(Number.POSITIVE_INFINITY) : value === undefined ? [] : [value]).filter(isLeaf);
  const present = values.length > 0;
  if (rule.exists?.some((wanted) => wanted === present)) return true;
  return values.some((v) => rule.tests.some((test) => test(v)));
}
