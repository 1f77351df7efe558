import type { IdentityPolicy } from './policies';

/**
 * The part of a resource ARN an identity-policy decision depends on: for every Resource / NotResource pattern of a
 * role, whether the ARN matches it. Two ARNs with the same signature get the same decision for the same action (the
 * simulation has no context keys), so the evaluator can memoize per signature instead of per ARN: new S3 keys then
 * cost a few regex tests, not a full simulation each.
 *
 * The signature is deliberately finer than IAM's own matching (per-segment and whole-ARN, case-sensitive and not),
 * so it can only split what IAM would group, never group what IAM would split. Roles whose patterns use policy
 * variables (`${aws:username}`…) get no signature: their decisions are memoized per ARN as before.
 */
export function resourceSignature(policies: readonly IdentityPolicy[]): ((arn: string) => string) | undefined {
  const patterns = policies.flatMap(({ document }) =>
    [document.Statement].flat().flatMap((statement) => [statement.Resource, statement.NotResource].flat()),
  );
  if (!patterns.every((pattern) => pattern === undefined || (typeof pattern === 'string' && !pattern.includes('${')))) return undefined;
  const matchers = [...new Set(patterns as (string | undefined)[])].filter((p): p is string => p !== undefined).map(patternMatchers);
  return (arn) => matchers.map((tests) => tests.map((test) => (test(arn) ? '1' : '0')).join('')).join('.');
}

type Test = (arn: string) => boolean;

function patternMatchers(pattern: string): Test[] {
  const whole = wildcardRegex(pattern);
  const wholeIgnoringCase = new RegExp(whole.source, 'i');
  const segments = splitArn(pattern).map((segment) => new RegExp(wildcardRegex(segment).source, 'i'));
  return [
    (arn) => whole.test(arn),
    (arn) => wholeIgnoringCase.test(arn),
    (arn) => {
      const parts = splitArn(arn);
      return parts.length === segments.length && segments.every((segment, i) => segment.test(parts[i] ?? ''));
    },
  ];
}

/** IAM wildcards: `*` any run of characters, `?` one character; everything else literal. */
function wildcardRegex(pattern: string): RegExp {
  const escaped = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\?/g, '.')
    .replace(/\*/g, '.*?');
  return new RegExp(`^${escaped}$`, 's');
}

/** The six ARN segments; the resource segment keeps its own colons. `*` alone is one segment. */
function splitArn(arn: string): string[] {
  const parts = arn.split(':');
  return parts.length <= 6 ? parts : [...parts.slice(0, 5), parts.slice(5).join(':')];
}
