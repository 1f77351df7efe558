import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { HANDLER_METADATA, REPO_ROOT } from '../../infra/constructs/ghostless-function';
import { GhostlessStack, type GhostlessStackProps } from '../../infra/ghostless-stack';

/** The fixed environment the local stack synthesizes for: every ARN in the resolved definition uses it. */
export const LOCAL_ACCOUNT = '000000000000';
export const LOCAL_REGION = 'us-east-1';
/** Same construct id as `infra/app.ts`, so the stack name (and the state machine name `Ghostless-jobs`) match a deployment. */
export const LOCAL_STACK_ID = 'Ghostless';

export type CfnTemplate = { Resources?: Record<string, CfnResource>; [key: string]: unknown };
type CfnResource = { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> };

export interface ExtractedStateMachine {
  /** The concrete ASL, exactly what Step Functions would receive on deployment. */
  definition: Record<string, unknown>;
  stateMachineArn: string;
  /** Function ARN (as it appears in the resolved ASL) → handler file name under `lambdas/handlers/` (no extension). */
  handlers: Record<string, string>;
}

/**
 * Synthesizes `GhostlessStack` in-process with cdk.json's context (feature flags), no asset bundling and no
 * builtin template validation, for account 000000000000 / us-east-1, and returns the CloudFormation template.
 */
export async function synthesizeTemplate(props: Omit<GhostlessStackProps, 'env'> = {}): Promise<CfnTemplate> {
  const cdkJson = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  const outdir = mkdtempSync(path.join(tmpdir(), 'ghostless-synth-'));
  try {
    const app = new App({
      outdir,
      // `new App()` does not read cdk.json; `aws:cdk:bundling-stacks: []` skips esbuild for every NodejsFunction.
      context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] },
      builtinCloudFormationValidation: false,
    });
    const stack = new GhostlessStack(app, LOCAL_STACK_ID, { ...props, env: { account: LOCAL_ACCOUNT, region: LOCAL_REGION } });
    // `.template` reads the file from outdir: read it before the directory goes.
    return structuredClone(app.synth().getStackArtifact(stack.artifactId).template) as CfnTemplate;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** Thrown for an intrinsic or reference the resolver does not understand (better than a half-resolved definition). */
export class TemplateResolutionError extends Error {
  override name = 'TemplateResolutionError';
}

/**
 * Finds the template's one `AWS::StepFunctions::StateMachine`, resolves its definition to concrete ASL
 * (Fn::Join, Fn::Sub, Fn::Select, Fn::Split, Ref, Fn::GetAtt, DefinitionSubstitutions) and maps every
 * Lambda that carries `ghostless:handler` metadata to its handler file.
 */
export function extractStateMachine(template: CfnTemplate, stateMachineLogicalId?: string): ExtractedStateMachine {
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
  const resolver = new Resolver(resources);
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

const arn = (service: string, resource: string) => `arn:aws:${service}:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${resource}`;

const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': LOCAL_REGION,
  'AWS::AccountId': LOCAL_ACCOUNT,
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': LOCAL_STACK_ID,
  'AWS::StackId': arn('cloudformation', `stack/${LOCAL_STACK_ID}/00000000-0000-0000-0000-000000000000`),
  'AWS::NoValue': '',
};

class Resolver {
  constructor(private readonly resources: Record<string, CfnResource>) {}

  resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((v) => this.resolve(v));
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value);
    const [key, arg] = entries[0] ?? [];
    if (entries.length === 1 && key !== undefined && (key === 'Ref' || key.startsWith('Fn::'))) return this.intrinsic(key, arg);
    return Object.fromEntries(entries.map(([k, v]) => [k, this.resolve(v)]));
  }

  private intrinsic(fn: string, arg: unknown): unknown {
    switch (fn) {
      case 'Ref':
        return this.ref(String(arg));
      case 'Fn::GetAtt': {
        const [id, attribute] = (typeof arg === 'string' ? arg.split(/\.(.*)/s) : (this.resolve(arg) as unknown[])).map(String);
        return this.getAtt(id ?? '', attribute ?? '');
      }
      case 'Fn::Join': {
        const [separator, list] = this.resolve(arg) as [string, unknown[]];
        return list.map(String).join(separator);
      }
      case 'Fn::Select': {
        const [index, list] = this.resolve(arg) as [number | string, unknown[]];
        const item = list[Number(index)];
        if (item === undefined) throw new TemplateResolutionError(`Fn::Select index ${index} out of range`);
        return item;
      }
      case 'Fn::Split': {
        const [separator, source] = this.resolve(arg) as [string, string];
        return String(source).split(separator);
      }
      case 'Fn::Sub': {
        const [template, variables] = (Array.isArray(arg) ? arg : [arg, {}]) as [string, Record<string, unknown>];
        const vars = this.resolve(variables) as Record<string, unknown>;
        return String(template).replace(/\$\{(!?)([^}]+)\}/g, (_whole, bang: string, name: string) => {
          if (bang) return `\${${name}}`; // ${!Literal}
          if (name in vars) return String(vars[name]);
          const [id, attribute] = name.split(/\.(.*)/s);
          return String(attribute ? this.getAtt(id ?? '', attribute) : this.ref(name));
        });
      }
      case 'Fn::Base64':
        return Buffer.from(String(this.resolve(arg))).toString('base64');
      default:
        throw new TemplateResolutionError(`unsupported intrinsic ${fn}`);
    }
  }

  private ref(name: string): unknown {
    if (name in PSEUDO) return PSEUDO[name];
    const resource = this.resources[name];
    if (!resource) throw new TemplateResolutionError(`Ref to unknown resource or parameter ${name}`);
    const props = resource.Properties ?? {};
    const named = (key: string) => (props[key] !== undefined ? String(this.resolve(props[key])) : name);
    switch (resource.Type) {
      case 'AWS::StepFunctions::StateMachine':
        return arn('states', `stateMachine:${named('StateMachineName')}`);
      case 'AWS::Lambda::Function':
        return named('FunctionName');
      case 'AWS::IAM::Role':
        return named('RoleName');
      case 'AWS::DynamoDB::Table':
      case 'AWS::DynamoDB::GlobalTable':
        return named('TableName');
      case 'AWS::S3::Bucket':
        return named('BucketName').toLowerCase();
      case 'AWS::SQS::Queue':
        return `https://sqs.${LOCAL_REGION}.amazonaws.com/${LOCAL_ACCOUNT}/${named('QueueName')}`;
      case 'AWS::SNS::Topic':
        return arn('sns', named('TopicName'));
      case 'AWS::Logs::LogGroup':
        return named('LogGroupName');
      default:
        return name; // a plausible physical id
    }
  }

  private getAtt(id: string, attribute: string): unknown {
    const resource = this.resources[id];
    if (!resource) throw new TemplateResolutionError(`Fn::GetAtt on unknown resource ${id}`);
    const physical = String(this.ref(id));
    switch (`${resource.Type}.${attribute}`) {
      case 'AWS::Lambda::Function.Arn':
        return arn('lambda', `function:${physical}`);
      case 'AWS::IAM::Role.Arn':
        return `arn:aws:iam::${LOCAL_ACCOUNT}:role/${physical}`;
      case 'AWS::DynamoDB::Table.Arn':
        return arn('dynamodb', `table/${physical}`);
      case 'AWS::S3::Bucket.Arn':
        return `arn:aws:s3:::${physical}`;
      case 'AWS::SQS::Queue.Arn':
        return arn('sqs', physical.split('/').pop() ?? physical);
      case 'AWS::Logs::LogGroup.Arn':
        return arn('logs', `log-group:${physical}:*`);
      case 'AWS::StepFunctions::StateMachine.Arn':
        return physical;
      case 'AWS::StepFunctions::StateMachine.Name':
        return physical.split(':').pop();
      default:
        if (attribute === 'Arn') return arn(resource.Type.split('::')[1]?.toLowerCase() ?? 'unknown', physical);
        throw new TemplateResolutionError(`unsupported Fn::GetAtt ${resource.Type}.${attribute} on ${id}`);
    }
  }
}
