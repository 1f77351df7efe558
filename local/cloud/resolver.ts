/**
 * Resolves CloudFormation intrinsics (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split, Fn::Base64,
 * pseudo parameters, template Parameters) to the concrete values a deployment would have, with physical ids
 * chosen by the local stack. Unknown references throw instead of yielding a half-resolved value.
 */

export type CfnResource = { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> };
export type CfnTemplate = {
  Resources?: Record<string, CfnResource>;
  Parameters?: Record<string, { Type: string; Default?: unknown }>;
  [key: string]: unknown;
};

export const LOCAL_ACCOUNT = '000000000000';
export const LOCAL_REGION = 'us-east-1';

export class TemplateResolutionError extends Error {
  override name = 'TemplateResolutionError';
}

export interface ResolverOptions {
  stackName: string;
  account?: string;
  region?: string;
  /** Logical id → physical id (table name, bucket name, function name…); otherwise a name-like property or the logical id. */
  physicalIds?: Record<string, string>;
  /** Template parameter values; a parameter without one takes its Default. */
  parameters?: Record<string, string>;
  /** `LogicalId.Attribute` → value, for attributes only a running resource has (an API's endpoint…). */
  attributes?: Record<string, string>;
}

export class Resolver {
  readonly account: string;
  readonly region: string;
  private readonly pseudo: Record<string, string>;

  constructor(
    private readonly template: CfnTemplate,
    private readonly options: ResolverOptions,
  ) {
    this.account = options.account ?? LOCAL_ACCOUNT;
    this.region = options.region ?? LOCAL_REGION;
    this.pseudo = {
      'AWS::Partition': 'aws',
      'AWS::Region': this.region,
      'AWS::AccountId': this.account,
      'AWS::URLSuffix': 'amazonaws.com',
      'AWS::StackName': options.stackName,
      'AWS::StackId': this.arn('cloudformation', `stack/${options.stackName}/00000000-0000-0000-0000-000000000000`),
      'AWS::NoValue': '',
    };
  }

  get resources(): Record<string, CfnResource> {
    return this.template.Resources ?? {};
  }

  arn(service: string, resource: string): string {
    return `arn:aws:${service}:${this.region}:${this.account}:${resource}`;
  }

  resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((v) => this.resolve(v));
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value);
    const [key, arg] = entries[0] ?? [];
    if (entries.length === 1 && key !== undefined && (key === 'Ref' || key.startsWith('Fn::'))) return this.intrinsic(key, arg);
    return Object.fromEntries(entries.map(([k, v]) => [k, this.resolve(v)]));
  }

  /** Resolves to a string (environment values, ARNs, names). */
  string(value: unknown): string {
    return String(this.resolve(value));
  }

  ref(name: string): string {
    if (name in this.pseudo) return this.pseudo[name] as string;
    const parameter = this.template.Parameters?.[name];
    if (parameter) {
      const value = this.options.parameters?.[name] ?? parameter.Default;
      if (value === undefined) throw new TemplateResolutionError(`parameter ${name} has no value and no default`);
      return String(value);
    }
    const resource = this.resources[name];
    if (!resource) throw new TemplateResolutionError(`Ref to unknown resource or parameter ${name}`);
    const physical = this.options.physicalIds?.[name];
    const props = resource.Properties ?? {};
    const named = (key: string) => physical ?? (props[key] !== undefined ? this.string(props[key]) : name);
    switch (resource.Type) {
      case 'AWS::StepFunctions::StateMachine':
        return this.arn('states', `stateMachine:${named('StateMachineName')}`);
      case 'AWS::Lambda::Function':
        return named('FunctionName');
      case 'AWS::IAM::Role':
        return named('RoleName');
      case 'AWS::DynamoDB::Table':
        return named('TableName');
      case 'AWS::S3::Bucket':
        return named('BucketName').toLowerCase();
      case 'AWS::SQS::Queue':
        return `https://sqs.${this.region}.amazonaws.com/${this.account}/${named('QueueName')}`;
      case 'AWS::SNS::Topic':
        return this.arn('sns', named('TopicName'));
      case 'AWS::SecretsManager::Secret':
        return this.arn('secretsmanager', `secret:${named('Name')}`);
      case 'AWS::Logs::LogGroup':
        return named('LogGroupName');
      case 'AWS::Events::Rule':
        return named('Name');
      default:
        return physical ?? name; // a plausible physical id
    }
  }

  getAtt(id: string, attribute: string): string {
    const override = this.options.attributes?.[`${id}.${attribute}`];
    if (override !== undefined) return override;
    const resource = this.resources[id];
    if (!resource) throw new TemplateResolutionError(`Fn::GetAtt on unknown resource ${id}`);
    const physical = this.ref(id);
    switch (`${resource.Type}.${attribute}`) {
      case 'AWS::Lambda::Function.Arn':
        return this.arn('lambda', `function:${physical}`);
      case 'AWS::IAM::Role.Arn':
        return `arn:aws:iam::${this.account}:role/${physical}`;
      case 'AWS::DynamoDB::Table.Arn':
        return this.arn('dynamodb', `table/${physical}`);
      case 'AWS::S3::Bucket.Arn':
        return `arn:aws:s3:::${physical}`;
      case 'AWS::S3::Bucket.RegionalDomainName':
        return `${physical}.s3.${this.region}.amazonaws.com`;
      case 'AWS::SQS::Queue.Arn':
        return this.arn('sqs', physical.split('/').pop() ?? physical);
      case 'AWS::SNS::Topic.TopicArn':
        return physical;
      case 'AWS::Logs::LogGroup.Arn':
        return this.arn('logs', `log-group:${physical}:*`);
      case 'AWS::Events::Rule.Arn':
        return this.arn('events', `rule/${physical}`);
      case 'AWS::StepFunctions::StateMachine.Arn':
        return physical;
      case 'AWS::StepFunctions::StateMachine.Name':
        return physical.split(':').pop() ?? physical;
      case 'AWS::Cognito::UserPool.Arn':
        return this.arn('cognito-idp', `userpool/${physical}`);
      case 'AWS::Cognito::UserPool.ProviderURL':
        return `https://cognito-idp.${this.region}.amazonaws.com/${physical}`;
      default:
        if (attribute === 'Arn') return this.arn(resource.Type.split('::')[1]?.toLowerCase() ?? 'unknown', physical);
        throw new TemplateResolutionError(`unsupported Fn::GetAtt ${resource.Type}.${attribute} on ${id}`);
    }
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
          return attribute ? this.getAtt(id ?? '', attribute) : this.ref(name);
        });
      }
      case 'Fn::Base64':
        return Buffer.from(this.string(arg)).toString('base64');
      default:
        throw new TemplateResolutionError(`unsupported intrinsic ${fn}`);
    }
  }
}
