import { readFileSync } from 'node:fs';
import path from 'node:path';
import { App, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../infra/constructs/ghostless-function';
import { GhostlessStack, type GhostlessStackProps } from '../../infra/ghostless-stack';
import { TABLE_SCHEMA } from '../../lambdas/adapters/table-schema';
import { ROUTES, routeKey } from '../../lambdas/handlers/routes';

type Statement = { Effect: string; Action: string | string[]; Resource: unknown };
type PolicyProps = { Roles: unknown[]; PolicyDocument: { Statement: Statement[] } };
type RouteProps = { RouteKey: string; Target: unknown; AuthorizationType?: string; AuthorizerId?: unknown };
type LifecycleRule = { Prefix?: string; ExpirationInDays?: number; AbortIncompleteMultipartUpload?: unknown };
type Catcher = { ErrorEquals: string[]; Next: string; ResultPath?: string | null };
type Retrier = { ErrorEquals: string[]; IntervalSeconds?: number; MaxAttempts?: number; BackoffRate?: number };
type State = {
  Type: string;
  Next?: string;
  End?: boolean;
  Default?: string;
  Choices?: { Next: string }[];
  Catch?: Catcher[];
  Retry?: Retrier[];
  Resource?: string;
  Parameters?: { FunctionName?: string; Payload?: Record<string, unknown> };
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
  ResultPath?: string | null;
  OutputPath?: string | null;
};
type Definition = { StartAt: string; States: Record<string, State> };

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
/** The jobs state machine of stack `Test` and its executions, as every grant and env var must name them. */
const STATE_MACHINE_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:Test-jobs`;
const EXECUTIONS_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:execution:Test-jobs:*`;
const SEND_TASK_RESPONSES = ['states:SendTaskFailure', 'states:SendTaskSuccess'];

const cdkContext = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')).context;

function synth(props: GhostlessStackProps = {}) {
  const app = new App({
    // cdk.json is not read by `new App()`; skip bundling and the slow template validation.
    context: { ...cdkContext, 'aws:cdk:bundling-stacks': [] },
    builtinCloudFormationValidation: false,
  });
  const stack = new GhostlessStack(app, 'Test', { env: { account: ACCOUNT, region: REGION }, ...props });
  return { stack, template: Template.fromStack(stack) };
}

let stack: GhostlessStack;
let template: Template;
const ref = (construct: IConstruct) => ({ Ref: logicalId(construct) });
const logicalId = (construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
const bucketArn = () => ({ 'Fn::GetAtt': [logicalId(stack.storage.bucket), 'Arn'] });
const objectsArn = (prefix: string) => ({ 'Fn::Join': ['', [bucketArn(), `/${prefix}*`]] });

function resources<Props = Record<string, unknown>>(type: string, from = template): [string, { Properties: Props }][] {
  return Object.entries(from.findResources(type)) as [string, { Properties: Props }][];
}

const lifecycleRules = (from: Template) =>
  resources<{ LifecycleConfiguration: { Rules: LifecycleRule[] } }>('AWS::S3::Bucket', from)[0]?.[1].Properties
    .LifecycleConfiguration.Rules ?? [];

/** Resolves an ARN built from literals and pseudo parameters to a string; anything else is returned as is. */
function resolveArn(value: unknown): unknown {
  const pseudo: Record<string, string> = { 'AWS::Partition': 'aws', 'AWS::Region': REGION, 'AWS::AccountId': ACCOUNT };
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })?.['Fn::Join'];
  if (!join) return value;
  const parts = join[1].map((part) => (typeof part === 'string' ? part : pseudo[(part as { Ref?: string }).Ref ?? '']));
  return parts.every((part) => typeof part === 'string') ? parts.join(join[0]) : value;
}

/** All functions of the stack: the two admission ones, then wait-for-slot, run-on-provider, collect-outputs, finalize. */
const allFunctions = (of = stack) => [of.admission.apiFunction, of.admission.s3EventFunction, ...of.jobs.functions];
/** The `ghostless:handler` metadata of a resource, i.e. the handler file a function runs. */
const handlerOf = (id: string, from = template): unknown => from.toJSON().Resources[id]?.Metadata?.['ghostless:handler'];
const handlerOfFunction = (fn: IConstruct) => handlerOf(logicalId(fn)) as string;
const envOf = (fn: IConstruct, of = stack, from = template): Record<string, unknown> =>
  from.toJSON().Resources[of.getLogicalId(fn.node.defaultChild as CfnElement)].Properties.Environment.Variables;

/**
 * The state machine's ASL. The DefinitionString is an Fn::Join of JSON chunks around Ref/GetAtt tokens, which
 * all sit inside JSON strings: they become `${Ref:Id}` / `${GetAtt:Id.Attr}` placeholders before parsing.
 */
function definitionOf(from = template): Definition {
  const machines = resources<{ DefinitionString: unknown }>('AWS::StepFunctions::StateMachine', from);
  expect(machines).toHaveLength(1);
  const raw = machines[0]?.[1].Properties.DefinitionString;
  if (typeof raw === 'string') return JSON.parse(raw);
  const [delimiter, parts] = (raw as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  expect(delimiter).toBe('');
  const text = parts
    .map((part) => {
      if (typeof part === 'string') return part;
      const token = part as { Ref?: string; 'Fn::GetAtt'?: [string, string] };
      if (token.Ref) return `\${Ref:${token.Ref}}`;
      if (token['Fn::GetAtt']) return `\${GetAtt:${token['Fn::GetAtt'].join('.')}}`;
      throw new Error(`unexpected token in the definition: ${JSON.stringify(part)}`);
    })
    .join('');
  return JSON.parse(text);
}

/** Logical id of the function a Task state invokes, from its `${GetAtt:Id.Arn}` FunctionName. */
const invokedFunctionId = (state: State) => /^\$\{GetAtt:([A-Za-z0-9]+)\.Arn\}$/.exec(state.Parameters?.FunctionName ?? '')?.[1];

/** States a state can go to next: Next, Choice branches and Catch targets. */
const successorsOf = (state: State) =>
  [state.Next, state.Default, ...(state.Choices ?? []).map((c) => c.Next), ...(state.Catch ?? []).map((c) => c.Next)].filter(
    (next): next is string => next !== undefined,
  );

/** Every Allow statement attached to the function's role, one action per entry. */
function grantsOf(fn: IConstruct & { role?: IConstruct }): { action: string; resource: unknown }[] {
  const role = ref(fn.role as IConstruct);
  return resources<PolicyProps>('AWS::IAM::Policy')
    .filter(([, policy]) => policy.Properties.Roles.some((r: unknown) => JSON.stringify(r) === JSON.stringify(role)))
    .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement)
    .filter((statement) => statement.Effect === 'Allow')
    .flatMap((statement) =>
      [statement.Action].flat().flatMap((action) =>
        [statement.Resource].flat().map((resource) => ({ action, resource })),
      ),
    );
}

beforeAll(() => {
  ({ stack, template } = synth());
});

describe('storage', () => {
  it('bills the table per request, keeps point-in-time recovery, expires items by ttl and indexes jobs by user and by liveness', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: TABLE_SCHEMA.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE_SCHEMA.sortKey, KeyType: 'RANGE' },
      ],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: TABLE_SCHEMA.ttlAttribute, Enabled: true },
      GlobalSecondaryIndexes: [
        Match.objectLike({
          IndexName: TABLE_SCHEMA.byUserIndex.name,
          KeySchema: [
            { AttributeName: TABLE_SCHEMA.byUserIndex.partitionKey, KeyType: 'HASH' },
            { AttributeName: TABLE_SCHEMA.byUserIndex.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        }),
        Match.objectLike({
          IndexName: TABLE_SCHEMA.liveIndex.name,
          KeySchema: [
            { AttributeName: TABLE_SCHEMA.liveIndex.partitionKey, KeyType: 'HASH' },
            { AttributeName: TABLE_SCHEMA.liveIndex.sortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        }),
      ],
    });
  });

  it('declares every key attribute of the table and its indexes as a string, and nothing else', () => {
    const [[, table]] = resources<{ AttributeDefinitions: unknown[] }>('AWS::DynamoDB::Table') as [[string, { Properties: { AttributeDefinitions: unknown[] } }]];
    const keys = [
      TABLE_SCHEMA.partitionKey,
      TABLE_SCHEMA.sortKey,
      TABLE_SCHEMA.byUserIndex.partitionKey,
      TABLE_SCHEMA.byUserIndex.sortKey,
      TABLE_SCHEMA.liveIndex.partitionKey,
      TABLE_SCHEMA.liveIndex.sortKey,
    ];
    const byName = (a: unknown, b: unknown) => JSON.stringify(a).localeCompare(JSON.stringify(b));
    expect([...table.Properties.AttributeDefinitions].sort(byName)).toEqual(
      keys.map((name) => ({ AttributeName: name, AttributeType: 'S' })).sort(byName),
    );
  });

  it('retains the table when the stack is deleted', () => {
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });

  it('blocks public access to the bucket and encrypts it', () => {
    template.resourceCountIs('AWS::S3::Bucket', 1);
    template.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
    });
  });

  it('denies every request to the bucket that is not made over TLS', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: ref(stack.storage.bucket),
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Principal: { AWS: '*' },
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            Resource: Match.arrayWith([bucketArn(), objectsArn('')]),
          }),
        ]),
      },
    });
  });

  it('lets browsers POST uploads to the bucket from any origin', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      CorsConfiguration: {
        CorsRules: Match.arrayWith([
          Match.objectLike({ AllowedMethods: Match.arrayWith(['POST']), AllowedOrigins: ['*'] }),
        ]),
      },
    });
  });

  it('aborts incomplete multipart uploads after a day and expires inputs and outputs after the retention period', () => {
    const rules = lifecycleRules(template);
    expect(rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' }),
        expect.objectContaining({ Prefix: 'inputs/', ExpirationInDays: 7, Status: 'Enabled' }),
        expect.objectContaining({ Prefix: 'outputs/', ExpirationInDays: 7, Status: 'Enabled' }),
      ]),
    );
    // The multipart rule must cover the whole bucket.
    const multipart = rules.find((rule) => rule.AbortIncompleteMultipartUpload);
    expect(multipart).toBeDefined();
    expect(multipart?.Prefix).toBeUndefined();
  });

  it('takes the object retention period from the stack props', () => {
    const rules = lifecycleRules(synth({ objectRetentionDays: 14 }).template);
    expect(rules.filter((rule) => rule.Prefix).map((rule) => rule.ExpirationInDays)).toEqual([14, 14]);
  });
});

describe('http api', () => {
  const routes = () => new Map(resources<RouteProps>('AWS::ApiGatewayV2::Route').map(([, r]) => [r.Properties.RouteKey, r]));

  it('creates exactly one route per ROUTES entry', () => {
    expect([...routes().keys()].sort()).toEqual(ROUTES.map(routeKey).sort());
  });

  it('puts the Cognito JWT authorizer on exactly the routes that need auth', () => {
    const [[authorizerId]] = resources('AWS::ApiGatewayV2::Authorizer') as [[string, unknown]];
    for (const route of ROUTES) {
      const properties = routes().get(routeKey(route))?.Properties;
      if (route.auth) {
        expect(properties, routeKey(route)).toMatchObject({ AuthorizationType: 'JWT', AuthorizerId: { Ref: authorizerId } });
      } else {
        expect(properties?.AuthorizerId, routeKey(route)).toBeUndefined();
        expect(properties?.AuthorizationType ?? 'NONE', routeKey(route)).toBe('NONE');
      }
    }
  });

  it('leaves only the health check and the provider callback without an authorizer', () => {
    const [[authorizerId]] = resources('AWS::ApiGatewayV2::Authorizer') as [[string, unknown]];
    const all = [...routes().entries()];
    const open = all.filter(([, r]) => r.Properties.AuthorizerId === undefined).map(([key]) => key);
    expect(open.sort()).toEqual(['GET /api/health', 'POST /api/provider/callback/{jobId}']);
    for (const [key, route] of all.filter(([k]) => !open.includes(k))) {
      expect(route.Properties, key).toMatchObject({ AuthorizationType: 'JWT', AuthorizerId: { Ref: authorizerId } });
    }
    // The user routes added with the queue are among the protected ones.
    expect(all.map(([key]) => key)).toEqual(
      expect.arrayContaining(['POST /api/jobs/{jobId}/cancel', 'POST /api/queue/release', 'GET /api/queue']),
    );
  });

  it('trusts tokens issued by the user pool for the web client', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: {
        Audience: [ref(stack.auth.userPoolClient)],
        Issuer: { 'Fn::Join': ['', ['https://cognito-idp.eu-west-1.amazonaws.com/', ref(stack.auth.userPool)]] },
      },
    });
  });

  it('sends every route to the api function', () => {
    const integrations = resources('AWS::ApiGatewayV2::Integration');
    expect(integrations).toHaveLength(1);
    const [[integrationId, integration]] = integrations as [[string, { Properties: unknown }]];
    expect(integration.Properties).toMatchObject({
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: { 'Fn::GetAtt': [logicalId(stack.admission.apiFunction), 'Arn'] },
    });
    for (const route of routes().values()) {
      expect(route.Properties.Target).toEqual({ 'Fn::Join': ['', ['integrations/', { Ref: integrationId }]] });
    }
  });
});

describe('functions', () => {
  const functions = () => allFunctions();

  it('are the api, s3-event and the four state machine steps', () => {
    expect(functions().map(handlerOfFunction)).toEqual(['api', 's3-event', 'wait-for-slot', 'run-on-provider', 'collect-outputs', 'finalize']);
    template.resourceCountIs('AWS::Lambda::Function', functions().length + 1); // + the CDK bucket-notifications handler
  });

  it('run Node.js 22 on arm64 with the table, the limits, the state machine and the provider in their environment', () => {
    for (const fn of functions()) {
      const properties = template.toJSON().Resources[logicalId(fn)].Properties;
      expect(properties, handlerOfFunction(fn)).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        Environment: {
          Variables: {
            TABLE_NAME: ref(stack.storage.table),
            JOB_RETENTION_DAYS: '30',
            MAX_RUNNING: '3',
            QUEUE_TIMEOUT_SECONDS: '3600',
            RUN_TIMEOUT_SECONDS: '900',
            RUNNINGHUB_BASE_URL: 'https://www.runninghub.ai',
            RUNNINGHUB_API_KEY: expect.any(String),
            RUNNINGHUB_WORKFLOWS: '{}',
          },
        },
      });
      expect(resolveArn(envOf(fn).STATE_MACHINE_ARN), handlerOfFunction(fn)).toBe(STATE_MACHINE_ARN);
    }
  });

  it('have the bucket name in their environment exactly when they are granted access to the bucket', () => {
    for (const fn of functions()) {
      const usesBucket = grantsOf(fn).some((grant) => grant.action.startsWith('s3:'));
      expect(envOf(fn).BUCKET_NAME, handlerOfFunction(fn)).toEqual(usesBucket ? ref(stack.storage.bucket) : undefined);
    }
    expect(functions().filter((fn) => envOf(fn).BUCKET_NAME).map(handlerOfFunction)).toEqual(['api', 's3-event', 'run-on-provider', 'collect-outputs']);
  });

  it('give only run-on-provider the public API URL, for the provider webhook', () => {
    const withUrl = functions().filter((fn) => 'PUBLIC_API_URL' in envOf(fn));
    expect(withUrl).toEqual([stack.jobs.functions[1]]);
    expect(handlerOfFunction(stack.jobs.functions[1] as IConstruct)).toBe('run-on-provider');
    expect(envOf(stack.jobs.functions[1] as IConstruct).PUBLIC_API_URL).toEqual(template.findOutputs('ApiUrl').ApiUrl?.Value);
  });

  it('take the limits, timeouts, retention and provider account from the stack props', () => {
    const other = synth({
      maxRunning: 5,
      queueTimeoutSeconds: 120,
      runTimeoutSeconds: 60,
      jobRetentionDays: 2,
      runningHub: { baseUrl: 'https://rh.example', apiKey: 'key', workflows: '{"try-on":"42"}' },
    });
    for (const fn of allFunctions(other.stack)) {
      expect(envOf(fn, other.stack, other.template), handlerOf(other.stack.getLogicalId(fn.node.defaultChild as CfnElement), other.template) as string).toMatchObject({
        MAX_RUNNING: '5',
        QUEUE_TIMEOUT_SECONDS: '120',
        RUN_TIMEOUT_SECONDS: '60',
        JOB_RETENTION_DAYS: '2',
        RUNNINGHUB_BASE_URL: 'https://rh.example',
        RUNNINGHUB_API_KEY: 'key',
        RUNNINGHUB_WORKFLOWS: '{"try-on":"42"}',
      });
    }
  });

  it('log to their own log groups with a bounded retention', () => {
    for (const fn of functions()) {
      const logGroup = template.toJSON().Resources[logicalId(fn)].Properties.LoggingConfig.LogGroup;
      const [, group] = resources<{ RetentionInDays: number }>('AWS::Logs::LogGroup').find(([id]) => id === logGroup.Ref) ?? [];
      expect(group?.Properties.RetentionInDays).toBeGreaterThan(0);
    }
  });

  it('notifies the s3-event function of objects created under inputs/ and nothing else', () => {
    template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: ref(stack.storage.bucket),
      NotificationConfiguration: {
        LambdaFunctionConfigurations: [
          {
            Events: ['s3:ObjectCreated:*'],
            Filter: { Key: { FilterRules: [{ Name: 'prefix', Value: 'inputs/' }] } },
            LambdaFunctionArn: { 'Fn::GetAtt': [logicalId(stack.admission.s3EventFunction), 'Arn'] },
          },
        ],
      },
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 's3.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [logicalId(stack.admission.s3EventFunction), 'Arn'] },
      SourceArn: bucketArn(),
    });
  });
});

describe('least privilege', () => {
  const s3Grants = (fn: IConstruct) => grantsOf(fn).filter((grant) => grant.action.startsWith('s3:'));

  it('lets the s3-event function read inputs only: no put, delete or access to outputs', () => {
    const grants = s3Grants(stack.admission.s3EventFunction);
    expect(grants.length).toBeGreaterThan(0);
    expect(grants.filter((g) => /^s3:(\*|Put|Delete|Abort|Restore|Replicate)/.test(g.action))).toEqual([]);
    expect(grants.filter((g) => g.action === 's3:GetObject').map((g) => g.resource)).toEqual([objectsArn('inputs/')]);
    expect(grants.filter((g) => g.action === 's3:ListBucket').map((g) => g.resource)).toEqual([bucketArn()]);
    expect(new Set(grants.map((g) => g.action))).toEqual(new Set(['s3:GetObject', 's3:ListBucket']));
  });

  it('lets the api function put inputs and read outputs, and nothing more in the bucket', () => {
    const grants = s3Grants(stack.admission.apiFunction);
    expect(grants.filter((g) => g.action === 's3:PutObject').map((g) => g.resource)).toEqual([objectsArn('inputs/')]);
    expect(grants.filter((g) => g.action === 's3:GetObject').map((g) => g.resource)).toEqual([objectsArn('outputs/')]);
    expect(new Set(grants.map((g) => g.action))).toEqual(new Set(['s3:PutObject', 's3:GetObject', 's3:ListBucket']));
  });

  it('attaches no inline or managed policy to the function roles beyond basic logging', () => {
    const roles = resources<{ Policies?: unknown; ManagedPolicyArns: unknown[] }>('AWS::IAM::Role');
    for (const fn of [stack.admission.apiFunction, stack.admission.s3EventFunction]) {
      const [, role] = roles.find(([id]) => id === logicalId(fn.role as IConstruct)) ?? [];
      expect(role?.Properties.Policies).toBeUndefined();
      expect(JSON.stringify(role?.Properties.ManagedPolicyArns)).toMatch(/^\[\{"Fn::Join":.*AWSLambdaBasicExecutionRole"\]\]\}\]$/);
    }
  });

  it('scopes every grant of both functions to the table and the bucket, never to *', () => {
    const table = { 'Fn::GetAtt': [logicalId(stack.storage.table), 'Arn'] };
    const index = { 'Fn::Join': ['', [table, '/index/*']] };
    for (const fn of [stack.admission.apiFunction, stack.admission.s3EventFunction]) {
      for (const grant of grantsOf(fn)) {
        expect(grant.action).not.toMatch(/\*$/);
        if (grant.action.startsWith('dynamodb:')) expect([table, index]).toContainEqual(grant.resource);
        else expect(grant.action).toMatch(/^s3:/);
      }
    }
  });
});

describe('outputs', () => {
  it('exports what clients and operators need', () => {
    expect(Object.keys(template.findOutputs('*')).sort()).toEqual(
      ['ApiUrl', 'BucketName', 'TableName', 'UserPoolClientId', 'UserPoolId'].sort(),
    );
  });
});
