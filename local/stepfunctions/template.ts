import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { HANDLER_METADATA, REPO_ROOT } from '../../infra/constructs/ghostless-function';
import { GhostlessStack, type GhostlessStackProps } from '../../infra/ghostless-stack';
import { type CfnResource, type CfnTemplate, LOCAL_ACCOUNT, LOCAL_REGION, Resolver, TemplateResolutionError } from '../cloud/resolver';
import { BUNDLED_ACCOUNT } from '../provider/server';

export type { CfnTemplate };

/** Same construct id as `infra/app.ts`, so the stack name (and the state machine name `Ghostless-jobs`) match a deployment. */
const LOCAL_STACK_ID = 'Ghostless';

export interface ExtractedStateMachine {
  /** The concrete ASL, exactly what Step Functions would receive on deployment. */
  definition: Record<string, unknown>;
  stateMachineArn: string;
  /** Function ARN (as it appears in the resolved ASL) → handler file name under `lambdas/handlers/` (no extension). */
  handlers: Record<string, string>;
}

/**
 * Synthesizes `GhostlessStack` in-process with cdk.json's context (feature flags), no asset bundling and no
 * builtin template validation, for account 000000000000 / us-east-1 and the bundled provider's account (unless
 * given another), and returns the CloudFormation template.
 */
export async function synthesizeTemplate(props: Partial<Omit<GhostlessStackProps, 'env'>> = {}): Promise<CfnTemplate> {
  const cdkJson = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  const outdir = mkdtempSync(path.join(tmpdir(), 'ghostless-synth-'));
  try {
    const app = new App({
      outdir,
      // `new App()` does not read cdk.json; `aws:cdk:bundling-stacks: []` skips esbuild for every NodejsFunction.
      context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] },
      builtinCloudFormationValidation: false,
    });
    const stack = new GhostlessStack(app, LOCAL_STACK_ID, {
      runningHub: BUNDLED_ACCOUNT,
      ...props,
      env: { account: LOCAL_ACCOUNT, region: LOCAL_REGION },
    });
    // `.template` reads the file from outdir: read it before the directory goes.
    return structuredClone(app.synth().getStackArtifact(stack.artifactId).template) as CfnTemplate;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/**
 * Finds the template's one `AWS::StepFunctions::StateMachine`, resolves its definition to concrete ASL
 * (Fn::Join, Fn::Sub, Fn::Select, Fn::Split, Ref, Fn::GetAtt, DefinitionSubstitutions) and maps every
 * Lambda that carries `ghostless:handler` metadata to its handler file.
 */
export function extractStateMachine(
  template: CfnTemplate,
  stateMachineLogicalId?: string,
  resolver: Resolver = new Resolver(template, { stackName: LOCAL_STACK_ID }),
): ExtractedStateMachine {
  const resources = template.Resources ?? {};
  const machines = Object.entries(resources).filter(
    ([id, r]) => r.Type === 'AWS::StepFunctions::StateMachine' && (!stateMachineLogicalId || id === stateMachineLogicalId),
  );
  if (machines.length !== 1) {
    throw new TemplateResolutionError(
      `expected exactly one AWS::StepFunctions::StateMachine${stateMachineLogicalId ? ` named ${stateMachineLogicalId}` : ''}, found ${machines.length}`,
    );
  }
  const [machineId, machine] = machines[0] as [string, CfnResource];
  const props = machine.Properties ?? {};

  let text: string;
  if (props.DefinitionString !== undefined) text = String(resolver.resolve(props.DefinitionString));
  else if (props.Definition !== undefined) text = JSON.stringify(resolver.resolve(props.Definition));
  else
    throw new TemplateResolutionError(`${machineId} has neither DefinitionString nor Definition (DefinitionS3Location is not supported)`);

  const substitutions = (resolver.resolve(props.DefinitionSubstitutions ?? {}) ?? {}) as Record<string, unknown>;
  text = text.replace(/\$\{([^}]+)\}/g, (whole, key: string) => (key in substitutions ? String(substitutions[key]) : whole));

  const definition = JSON.parse(text) as Record<string, unknown>;
  const stateMachineArn = String(resolver.resolve({ Ref: machineId }));

  const handlers: Record<string, string> = {};
  for (const [id, resource] of Object.entries(resources)) {
    const handler = resource.Metadata?.[HANDLER_METADATA];
    if (resource.Type !== 'AWS::Lambda::Function' || typeof handler !== 'string') continue;
    handlers[String(resolver.resolve({ 'Fn::GetAtt': [id, 'Arn'] }))] = handler;
  }
  return { definition, stateMachineArn, handlers };
}
