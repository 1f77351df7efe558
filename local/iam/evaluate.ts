import { createValidatedPolicy, validateIdentityPolicy } from '@cloud-copilot/iam-policy';
import { runSimulation, runUnsafeSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import { LOCAL_ENVIRONMENT } from './environment';
import type { IdentityPolicy } from './policies';
import type { AuthorizationCheck } from './request-model';
import { resourceSignature } from './resource-signature';

export type Decision = 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied';

/** Who makes the call: the assumed-role ARN and the identity policies of that role. */
export interface Caller {
  principalArn: string;
  /** Also the cache key: pass the same array for every call of a role. */
  policies: readonly IdentityPolicy[];
}

/** A policy iam-simulate refuses (syntax, unknown operator…): AWS would have refused to create the role. */
export class InvalidPolicyError extends Error {
  override name = 'InvalidPolicyError';
}

/** A check iam-simulate cannot evaluate (unknown action, ARN of the wrong resource type…): a bug in describeRequest. */
class SimulationError extends Error {
  override name = 'SimulationError';
}

type ValidatedPolicies = Simulation['identityPolicies'];

/**
 * Decides authorization checks against identity policies with @cloud-copilot/iam-simulate (same-account calls, no
 * resource policies, SCPs or boundaries: a local stack has none). Policies are validated once per role; decisions
 * are memoized per role, action and resource signature (which of the role's resource patterns the ARN matches),
 * because the simulation is a pure function of them (no context keys).
 */
export class PolicyEvaluator {
  private readonly validated = new WeakMap<readonly IdentityPolicy[], ValidatedPolicies>();
  private readonly decisions = new WeakMap<readonly IdentityPolicy[], Map<string, Decision>>();
  private readonly signatures = new WeakMap<readonly IdentityPolicy[], ((arn: string) => string) | null>();

  constructor(private readonly options: { account?: string; maxDecisionsPerRole?: number } = {}) {}

  async evaluate(caller: Caller, check: AuthorizationCheck): Promise<Decision> {
    let memo = this.decisions.get(caller.policies);
    if (!memo) {
      memo = new Map();
      this.decisions.set(caller.policies, memo);
    }
    const key = `${caller.principalArn}\n${check.action}\n${this.signatureOf(caller.policies)?.(check.resource) ?? check.resource}`;
    const known = memo.get(key);
    if (known) return known;

    const decision = await this.simulate(caller, check);
    // Oldest-first eviction keeps memory bounded when S3 keys never repeat (roles without a signature).
    if (memo.size >= (this.options.maxDecisionsPerRole ?? 10_000)) memo.delete(memo.keys().next().value as string);
    memo.set(key, decision);
    return decision;
  }

  private signatureOf(policies: readonly IdentityPolicy[]) {
    let signature = this.signatures.get(policies);
    if (signature === undefined) {
      signature = resourceSignature(policies) ?? null;
      this.signatures.set(policies, signature);
    }
    return signature;
  }

  private async simulate(caller: Caller, check: AuthorizationCheck): Promise<Decision> {
    const simulation: Simulation = {
      request: {
        principal: caller.principalArn,
        action: check.action,
        resource: { resource: check.resource, accountId: this.options.account ?? LOCAL_ENVIRONMENT.account },
        contextVariables: {},
      },
      identityPolicies: this.validatedPolicies(caller.policies),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
    };
    const result = await runSimulation(simulation, {});
    if (result.resultType !== 'error') return result.overallResult;
    if (result.errors.message === 'must.use.wildcard') {
      // SendTask* are wildcard-only in the Service Authorization Reference, but AWS authorizes them against the
      // token's state machine (see requests-json-services.ts); the validated entry point refuses such an ARN.
      return runUnsafeSimulation(simulation, {}) as Decision;
    }
    throw new SimulationError(`cannot evaluate ${check.action} on ${check.resource}: ${JSON.stringify(result.errors)}`);
  }

  private validatedPolicies(policies: readonly IdentityPolicy[]): ValidatedPolicies {
    let validated = this.validated.get(policies);
    if (validated) return validated;
    validated = policies.map(({ name, document }) => {
      const policy = createValidatedPolicy(document, validateIdentityPolicy, { name });
      if (policy.errors.length > 0) throw new InvalidPolicyError(`identity policy ${name} is invalid: ${JSON.stringify(policy.errors)}`);
      return { name, policy };
    });
    this.validated.set(policies, validated);
    return validated;
  }
}
