import { BlockList, isIPv4, isIPv6 } from 'node:net';

/**
 * The value tests behind an event pattern's match expressions (exact values, prefix/suffix, wildcard, anything-but,
 * numeric, cidr), as aws/event-ruler evaluates them. `fail` reports a malformed argument the way PutRule refuses it.
 */

export type Leaf = string | number | boolean | null;
export type Test = (value: Leaf) => boolean;
export type Json = Record<string, unknown>;
export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Numeric matching covers this range with six decimal places (event-ruler README; PutRule rejects wider). */
const NUMERIC_LIMIT = 5e9;
const NUMERIC_SCALE = 1e6;

/** Exact numbers also match at six decimal places, as event-ruler adds a numeric-equals beside the literal. */
export function exact(expected: Leaf): Test {
  if (typeof expected !== 'number' || !(Math.abs(expected) <= NUMERIC_LIMIT)) return (v) => v === expected;
  const bound = comparable(expected);
  return (v) => v === expected || (typeof v === 'number' && Math.abs(v) <= NUMERIC_LIMIT && comparable(v) === bound);
}

export function equalsIgnoreCase(text: string): Test {
  const folded = text.toLowerCase();
  return (v) => typeof v === 'string' && v.toLowerCase() === folded;
}

/** `"x"` or `{ "equals-ignore-case": "x" }`, the two forms prefix and suffix accept. */
export function affixArgument(operator: string, arg: unknown, fail: (reason: string) => never) {
  if (typeof arg === 'string') return { text: arg, ignoreCase: false };
  if (isObject(arg) && Object.keys(arg).length === 1 && typeof arg['equals-ignore-case'] === 'string') {
    return { text: arg['equals-ignore-case'] as string, ignoreCase: true };
  }
  return fail(`${operator} match pattern must be a string or an equals-ignore-case object with a string`);
}

export function affix(operator: 'prefix' | 'suffix', text: string, ignoreCase: boolean): Test {
  const needle = ignoreCase ? text.toLowerCase() : text;
  return (v) => {
    if (typeof v !== 'string') return false;
    const hay = ignoreCase ? v.toLowerCase() : v;
    return operator === 'prefix' ? hay.startsWith(needle) : hay.endsWith(needle);
  };
}

/** `*` is any run of characters; `\*` and `\\` are literal; `**` and other escapes are refused (event-ruler). */
export function wildcard(text: string, fail: (reason: string) => never): Test {
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
export function anythingBut(arg: unknown, fail: (reason: string) => never): Test {
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
      const tests = list.map((x: string) => (operator === 'wildcard' ? wildcard(x, fail) : equalsIgnoreCase(x)));
      excludes = (v) => tests.some((test) => test(v));
      break;
    }
    default:
      return fail(`Unsupported anything-but pattern: ${operator}`);
  }
  return (v) => typeof v !== 'string' || !excludes(v);
}

/** `[op, n]` or `[">"|">=", low, "<"|"<=", high]`; only JSON numbers in the event match. */
export function numeric(arg: unknown, fail: (reason: string) => never): Test {
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

export function cidr(text: string, fail: (reason: string) => never): Test {
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
