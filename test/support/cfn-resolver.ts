/**
 * Test-only copy of the minimal intrinsic resolution in local/stepfunctions/template.ts (its Resolver is private):
 * enough to resolve IAM policy documents of the synthesized template to the ARNs the local stack uses.
 */
const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const STACK = 'Ghostless';

type Resource = { Type: string; Properties?: Record<string, unknown> };

const arn = (service: string, resource: string) => `arn:aws:${service}:${REGION}:${ACCOUNT}:${resource}`;

const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': REGION,
  'AWS::AccountId': ACCOUNT,
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': STACK,
  'AWS::NoValue': '',
};

export function templateResolver(template: { Resources?: Record<string, Resource> }): (value: unknown) => unknown {
  const resources = template.Resources ?? {};

  const resolve = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(resolve);
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value);
    const [key, arg] = entries[0] ?? [];
    if (entries.length === 1 && key !== undefined && (key === 'Ref' || key.startsWith('Fn::'))) return intrinsic(key, arg);
    return Object.fromEntries(entries.map(([k, v]) => [k, resolve(v)]));
  };

  const intrinsic = (fn: string, arg: unknown): unknown => {
    switch (fn) {
      case 'Ref':
        return ref(String(arg));
      case 'Fn::GetAtt': {
        const [id, attribute] = (typeof arg === 'string' ? arg.split(/\.(.*)/s) : (resolve(arg) as unknown[])).map(String);
        return getAtt(id ?? '', attribute ?? '');
      }
      case 'Fn::Join': {
        const [separator, list] = resolve(arg) as [string, unknown[]];
        return list.map(String).join(separator);
      }
      case 'Fn::Select': {
        const [index, list] = resolve(arg) as [number | string, unknown[]];
        return list[Number(index)];
      }
      case 'Fn::Split': {
        const [separator, source] = resolve(arg) as [string, string];
        return String(source).split(separator);
      }
      case 'Fn::Sub': {
        const [text, variables] = (Array.isArray(arg) ? arg : [arg, {}]) as [string, Record<string, unknown>];
        const vars = resolve(variables) as Record<string, unknown>;
        return String(text).replace(/\$\{(!?)([^}]+)\}/g, (_whole, bang: string, name: string) => {
          if (bang) return `\${${name}}`;
          if (name in vars) return String(vars[name]);
          const [id, attribute] = name.split(/\.(.*)/s);
          return String(attribute ? getAtt(id ?? '', attribute) : ref(name));
        });
      }
      default:
        throw new Error(`test resolver: unsupported intrinsic ${fn}`);
    }
  };

  const ref = (name: string): unknown => {
    if (name in PSEUDO) return PSEUDO[name];
    const resource = resources[name];
    if (!resource) throw new Error(`test resolver: Ref to unknown ${name}`);
    const props = resource.Properties ?? {};
    const named = (key: string) => (props[key] !== undefined ? String(resolve(props[key])) : name);
    switch (resource.Type) {
      case 'AWS::StepFunctions::StateMachine':
        return arn('states', `stateMachine:${named('StateMachineName')}`);
      case 'AWS::Lambda::Function':
        return named('FunctionName');
      case 'AWS::IAM::Role':
        return named('RoleName');
      case 'AWS::DynamoDB::Table':
        return named('TableName');
      case 'AWS::S3::Bucket':
        return named('BucketName').toLowerCase();
      case 'AWS::IAM::ManagedPolicy':
        return `arn:aws:iam::${ACCOUNT}:policy/${named('ManagedPolicyName')}`;
      default:
        return name;
    }
  };

  const getAtt = (id: string, attribute: string): unknown => {
    const resource = resources[id];
    if (!resource) throw new Error(`test resolver: Fn::GetAtt on unknown ${id}`);
    const physical = String(ref(id));
    switch (`${resource.Type}.${attribute}`) {
      case 'AWS::Lambda::Function.Arn':
        return arn('lambda', `function:${physical}`);
      case 'AWS::IAM::Role.Arn':
        return `arn:aws:iam::${ACCOUNT}:role/${physical}`;
      case 'AWS::DynamoDB::Table.Arn':
        return arn('dynamodb', `table/${physical}`);
      case 'AWS::S3::Bucket.Arn':
        return `arn:aws:s3:::${physical}`;
      case 'AWS::SQS::Queue.Arn':
        return arn('sqs', physical);
      case 'AWS::Logs::LogGroup.Arn':
        return arn('logs', `log-group:${physical}:*`);
      case 'AWS::StepFunctions::StateMachine.Arn':
        return physical;
      default:
        if (attribute === 'Arn') return arn(resource.Type.split('::')[1]?.toLowerCase() ?? 'unknown', physical);
        if (attribute === 'StreamArn') return `${getAtt(id, 'Arn')}/stream/1970-01-01T00:00:00.000`;
        throw new Error(`test resolver: unsupported Fn::GetAtt ${resource.Type}.${attribute}`);
    }
  };

  return resolve;
}
