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
import { BlockList, isIPv4, isIPv6 } from 'node:net';

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

/** Numeric matching covers this range with six decimal places (event-ruler README; PutRule rejects wider). */
const NUMERIC_LIMIT = 5e9;
const NUMERIC_SCALE = 1e6;
const OPERATORS = ['prefix', 'suffix', 'anything-but', 'numeric', 'exists', 'cidr', 'equals-ignore-case', 'wildcard'];

type Leaf = string | number | boolean | null;
type Test = (value: Leaf) => boolean;
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

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
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
      const folded = (arg as string).toLowerCase();
      return (v) => typeof v === 'string' && v.toLowerCase() === folded;
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

/** Exact numbers also match at six decimal places, as event-ruler adds a numeric-equals beside the literal. */
function exact(expected: Leaf): Test {
  if (typeof expected !== 'number' || !(Math.abs(expected) <= NUMERIC_LIMIT)) return (v) => v === expected;
  const bound = comparable(expected);
  return (v) => v === expected || (typeof v === 'number' && Math.abs(v) <= NUMERIC_LIMIT && comparable(v) === bound);
}

/** `"x"` or `{ "equals-ignore-case": "x" }`, the two forms prefix and suffix accept. */
function affixArgument(operator: string, arg: unknown, fail: (reason: string) => never) {
  if (typeof arg === 'string') return { text: arg, ignoreCase: false };
  if (isObject(arg) && Object.keys(arg).length === 1 && typeof arg['equals-ignore-case'] === 'string') {
    return { text: arg['equals-ignore-case'] as string, ignoreCase: true };
  }
  return fail(`${operator} match pattern must be a string or an equals-ignore-case object with a string`);
}

function affix(operator: 'prefix' | 'suffix', text: string, ignoreCase: boolean): Test {
  const needle = ignoreCase ? text.toLowerCase() : text;
  return (v) => {
    if (typeof v !== 'string') return false;
    const hay = ignoreCase ? v.toLowerCase() : v;
    return operator === 'prefix' ? hay.startsWith(needle) : hay.endsWith(needle);
  };
}

/** `*` is any run of characters; `\*` and `\\` are literal; `**` and other escapes are refused (event-ruler). */
function wildcard(text: string, fail: (reason: string) => never): Test {
  let source = '';
  let previousStar = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (char === '*') {
      if (previousStar) fail('Consecutive wildcard characters are not allowed in a wildcard pattern');
      source += '.*';
      previousStar = true;
      continue;
    }
    previousStar = false;
    if (char === '\\') {
      const next = text[++i];
      if (next !== '*' && next !== '\\') fail('Backslash in a wildcard pattern may only escape "*" or "\\"');
      source += `\\${next}`;
    } else {
      source += char.replace(/[.+?^${}()|[\]/-]/g, '\\$&');
    }
  }
  const regex = new RegExp(`^${source}$`, 's');
  return (v) => typeof v === 'string' && regex.test(v);
}

/**
 * anything-but excludes values of its own kind only: a string exclusion never rejects a number and vice versa
 * (event-ruler compares numeric-ness before excluding). The field must still be present.
 */
function anythingBut(arg: unknown, fail: (reason: string) => never): Test {
  if (typeof arg === 'string') return (v) => v !== arg;
  if (typeof arg === 'number') {
    const excluded = comparable(arg, fail);
    return (v) => typeof v !== 'number' || comparable(v) !== excluded;
  }
  if (Array.isArray(arg)) {
    if (arg.length > 0 && arg.every((x) => typeof x === 'string')) {
      const excluded = new Set(arg);
      return (v) => typeof v !== 'string' || !excluded.has(v);
    }
    if (arg.length > 0 && arg.every((x) => typeof x === 'number')) {
      const excluded = new Set(arg.map((x) => comparable(x, fail)));
      return (v) => typeof v !== 'number' || !excluded.has(comparable(v));
    }
    return fail('Inside anything-but list, either all values are number or string, mixed type is not supported');
  }
  if (!isObject(arg)) return fail('Value of anything-but must be an array or single string/number value');
  const keys = Object.keys(arg);
  if (keys.length !== 1) return fail('Only one key allowed in anything-but expression');
  const operator = keys[0] as string;
  const inner = arg[operator];
  let excludes: Test;
  switch (operator) {
    case 'prefix':
    case 'suffix':
      // The guide: "Anything-but matching only works with a single prefix, not a list."
      if (typeof inner !== 'string') return fail(`anything-but ${operator} match pattern must be a string`);
      if (inner === '') return fail('Null prefix/suffix not allowed');
      excludes = affix(operator, inner, false);
      break;
    case 'equals-ignore-case':
    case 'wildcard': {
      const list = typeof inner === 'string' ? [inner] : inner;
      if (!Array.isArray(list) || list.length === 0 || !list.every((x) => typeof x === 'string')) {
        return fail(`anything-but ${operator} takes a string or a non-empty list of strings`);
      }
      const tests = list.map((x: string) =>
        operator === 'wildcard' ? wildcard(x, fail) : (compileExpression({ 'equals-ignore-case': x }, '') as Test),
      );
      excludes = (v) => tests.some((test) => test(v));
      break;
    }
    default:
      return fail(`Unsupported anything-but pattern: ${operator}`);
  }
  return (v) => typeof v !== 'string' || !excludes(v);
}

/** `[op, n]` or `[">"|">=", low, "<"|"<=", high]`; only JSON numbers in the event match. */
function numeric(arg: unknown, fail: (reason: string) => never): Test {
  if (!Array.isArray(arg) || arg.length === 0) return fail('Value of numeric must be a non-empty array');
  const term = (index: number) => {
    const operator = arg[index];
    const value = arg[index + 1];
    if (typeof operator !== 'string') fail(`Invalid member in numeric match: ${JSON.stringify(operator)}`);
    if (typeof value !== 'number') fail(`Value of ${operator} must be numeric`);
    return { operator: operator as string, bound: comparable(value as number, fail) };
  };
  const first = term(0);
  const checks: Array<(n: number) => boolean> = [];
  const compare: Record<string, (n: number, b: number) => boolean> = {
    '=': (n, b) => n === b,
    '<': (n, b) => n < b,
    '<=': (n, b) => n <= b,
    '>': (n, b) => n > b,
    '>=': (n, b) => n >= b,
  };
  const firstCompare = compare[first.operator];
  if (!firstCompare) return fail(`Unrecognized numeric range operator: ${first.operator}`);
  checks.push((n) => firstCompare(n, first.bound));
  if (arg.length > 2) {
    // Only a lower bound may be followed by an upper one, and nothing follows that.
    if (first.operator !== '>' && first.operator !== '>=') return fail('Too many elements in numeric expression');
    const second = term(2);
    if (second.operator !== '<' && second.operator !== '<=') return fail(`Bad numeric range operator: ${second.operator}`);
    if (arg.length > 4) return fail('Too many terms in numeric range expression');
    if (second.bound <= first.bound) return fail('Bottom must be less than top in a numeric range');
    const secondCompare = compare[second.operator] as (n: number, b: number) => boolean;
    checks.push((n) => secondCompare(n, second.bound));
  } else if (arg.length !== 2) {
    return fail('Too many elements in numeric expression');
  }
  return (v) => {
    if (typeof v !== 'number' || Math.abs(v) > NUMERIC_LIMIT) return false;
    const n = comparable(v);
    return checks.every((check) => check(n));
  };
}

/** Numbers compare with six decimal places, like event-ruler's ComparableNumber. */
function comparable(value: number, fail?: (reason: string) => never): number {
  if (fail && !(Math.abs(value) <= NUMERIC_LIMIT)) fail(`Value ${value} is out of range; numbers must be between -5.0e9 and 5.0e9`);
  return Math.round(value * NUMERIC_SCALE);
}

function cidr(text: string, fail: (reason: string) => never): Test {
  const slash = text.indexOf('/');
  const address = slash < 0 ? '' : text.slice(0, slash);
  const bits = slash < 0 ? Number.NaN : Number(text.slice(slash + 1));
  const family = isIPv4(address) ? 'ipv4' : isIPv6(address) ? 'ipv6' : undefined;
  const max = family === 'ipv4' ? 32 : 128;
  if (!family || !Number.isInteger(bits) || bits < 0 || bits > max || !/^\d+$/.test(text.slice(slash + 1))) {
    return fail(`Malformed CIDR: ${text}`);
  }
  const block = new BlockList();
  block.addSubnet(address, bits, family);
  return (v) => {
    if (typeof v !== 'string') return false;
    const type = isIPv4(v) ? 'ipv4' : isIPv6(v) ? 'ipv6' : undefined;
    return type === family && block.check(v, type);
  };
}

// ---------------------------------------------------------------------------------------------------- match

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
