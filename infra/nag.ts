import { type App, Aspects, type IAspect, Stack, Validations } from 'aws-cdk-lib';
import { CfnPolicy } from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import type { IConstruct } from 'constructs';

/**
 * Runs cdk-nag's AwsSolutions pack on every synthesis: any finding that is not acknowledged on its
 * own construct stops `cdk synth`/`cdk deploy` (CDK validation plugins fail the synthesis).
 */
export function enforceAwsSolutions(app: App) {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
}

/**
 * Acknowledges one AwsSolutions finding on one construct (and its children), with the reason a
 * reviewer reads. `rule` is the rule id without the pack prefix, e.g. `IAM5[Resource::*]`.
 */
export function acknowledge(construct: IConstruct, rule: string, reason: string) {
  Validations.of(construct).acknowledge({ id: `AwsSolutions-${rule}`, reason });
}

/** Acknowledges the IAM5 finding of one wildcard resource (an ARN string or token), named the way cdk-nag prints it. */
export function acknowledgeWildcard(construct: IConstruct, resource: string, reason: string) {
  acknowledge(construct, `IAM5[Resource::${flattenCfnReference(Stack.of(construct).resolve(resource))}]`, reason);
}

/**
 * For a Lambda that aws-cdk-lib creates and owns (deployment-time custom-resource handlers): its runtime,
 * its managed logging policy and each wildcard its generated policy holds, listed one by one.
 */
export function acknowledgeCdkHandler(handler: IConstruct, purpose: string) {
  const owned = `${purpose}; aws-cdk-lib generates this handler and its grants, and it runs only during deployments`;
  acknowledge(handler, 'L1', `${owned} (its runtime is pinned by aws-cdk-lib).`);
  acknowledge(
    handler,
    'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
    `${owned} (AWSLambdaBasicExecutionRole for its own logs).`,
  );
  const wildcards: IAspect = {
    visit(node) {
      if (!(node instanceof CfnPolicy)) return;
      const document = Stack.of(node).resolve(node.policyDocument) as {
        Statement?: { Effect: string; Action: unknown; Resource: unknown }[];
      };
      for (const statement of document.Statement ?? []) {
        if (statement.Effect !== 'Allow') continue;
        for (const action of [statement.Action].flat() as string[]) {
          if (action.includes('*')) acknowledge(node, `IAM5[Action::${action}]`, `${owned}.`);
        }
        for (const resource of [statement.Resource].flat()) {
          const flat = flattenCfnReference(resource);
          if (flat.includes('*')) acknowledge(node, `IAM5[Resource::${flat}]`, `${owned}.`);
        }
      }
    },
  };
  Aspects.of(handler).add(wildcards);
}

/** Every acknowledgement in the tree, for the written list and the tests: `{path, rule, reason}`. */
export function acknowledgements(root: IConstruct) {
  const all = root.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path,
          rule: id.replace(/^annotation::/i, '').replace(/^AwsSolutions-/, ''),
          reason,
        })),
      ),
  );
  return all.filter((entry, i) => all.findIndex((other) => other.path === entry.path && other.rule === entry.rule) === i);
}
