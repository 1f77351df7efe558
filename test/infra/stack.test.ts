import type { CfnElement } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { TABLE_ACCESS } from '../../infra/constructs/table-access';
import type { GhostlessStack } from '../../infra/ghostless-stack';
import { TABLE_SCHEMA } from '../../lambdas/adapters/table-schema';
import { BUSY_HOLD_MS } from '../../lambdas/domain/queue';
import { ROUTES, routeKey } from '../../lambdas/handlers/routes';
import { BUNDLED_ACCOUNT } from '../../local/provider/server';
import { BUNDLED_WORKFLOW_MAP_JSON } from '../../local/provider/workflows';
import { ACCOUNT, REGION, synth } from '../support/synth';

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

/** The jobs state machine of stack `Test` and its executions, as every grant and env var must name them. */
const STATE_MACHINE_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:Test-jobs`;
const EXECUTIONS_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:execution:Test-jobs:*`;
const SEND_TASK_RESPONSES = ['states:SendTaskFailure', 'states:SendTaskSuccess'];

let stack: GhostlessStack;
let template: Template;
const ref = (construct: IConstruct) => ({ Ref: logicalId(construct) });
const logicalId = (construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
const bucketArn = () => ({ 'Fn::GetAtt': [logicalId(stack.storage.bucket), 'Arn'] });
const objectsArn = (prefix: string) => ({ 'Fn::Join': ['', [bucketArn(), `/${prefix}*`]] });
// Outputs stream in by multipart upload, which a failed collection aborts (CDK sorts the actions).
const streamedOutputs = () => ['s3:AbortMultipartUpload', 's3:PutObject'].map((action) => ({ action, resource: objectsArn('outputs/') }));
const tableArn = () => ({ 'Fn::GetAtt': [logicalId(stack.storage.table), 'Arn'] });
const indexArn = (name: string) => ({ 'Fn::Join': ['', [tableArn(), `/index/${name}`]] });

function resources<Props = Record<string, unknown>>(type: string, from = template): [string, { Properties: Props }][] {
  return Object.entries(from.findResources(type)) as [string, { Properties: Props }][];
}

/** The media bucket's lifecycle rules (the one bucket with an inputs/ rule). */
const lifecycleRules = (from: Template) =>
  resources<{ LifecycleConfiguration?: { Rules: LifecycleRule[] } }>('AWS::S3::Bucket', from)
    .map(([, bucket]) => bucket.Properties.LifecycleConfiguration?.Rules ?? [])
    .find((rules) => rules.some((rule) => rule.Prefix === 'inputs/')) ?? [];

/** Resolves an ARN built from literals and pseudo parameters to a string; anything else is returned as is. */
function resolveArn(value: unknown): unknown {
  const pseudo: Record<string, string> = { 'AWS::Partition': 'aws', 'AWS::Region': REGION, 'AWS::AccountId': ACCOUNT };
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })?.['Fn::Join'];
  if (!join) return value;
  const parts = join[1].map((part) => (typeof part === 'string' ? part : pseudo[(part as { Ref?: string }).Ref ?? '']));
  return parts.every((part) => typeof part === 'string') ? parts.join(join[0]) : value;
}

/** All functions of the stack: api, s3-event, the five steps (wait-for-slot, stage-inputs, run-on-provider, collect-outputs, finalize), sweeper, execution-ended. */
const allFunctions = (of = stack) => [
  of.admission.apiFunction,
  of.admission.s3EventFunction,
  ...of.jobs.functions,
  of.healing.sweeper,
  of.healing.cleanup,
];
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
      [statement.Action].flat().flatMap((action) => [statement.Resource].flat().map((resource) => ({ action, resource }))),
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
    const [[, table]] = resources<{ AttributeDefinitions: unknown[] }>('AWS::DynamoDB::Table') as [
      [string, { Properties: { AttributeDefinitions: unknown[] } }],
    ];
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
    template.resourceCountIs('AWS::S3::Bucket', 3); // media, the SPA's, access logs
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

  it("lets browsers POST uploads to the media bucket from the SPA's CloudFront origin only", () => {
    const media = template.toJSON().Resources[logicalId(stack.storage.bucket)].Properties;
    expect(media.CorsConfiguration).toBeUndefined(); // written after the distribution exists, see below
    const cors = resources<{ Create: unknown }>('Custom::AWS')[0]?.[1] as { Properties: { Create: unknown } };
    const create = JSON.stringify(cors.Properties.Create);
    expect(create).toContain('putBucketCors');
    expect(create).toContain(logicalId(stack.storage.bucket));
    expect(create).toContain(JSON.stringify({ 'Fn::GetAtt': [logicalId(stack.web.distribution), 'DomainName'] }));
    expect(create).toContain('\\"AllowedOrigins\\":[\\"https://');
    expect(create).not.toContain('"*"');
  });

  it("lets browsers PUT the parts of a resumable upload and read each part's ETag", () => {
    const cors = resources<{ Create: unknown }>('Custom::AWS')[0]?.[1] as { Properties: { Create: unknown } };
    const create = JSON.stringify(cors.Properties.Create);
    expect(create).toContain('\\"AllowedMethods\\":[\\"POST\\",\\"PUT\\",\\"GET\\",\\"HEAD\\"]');
    expect(create).toContain('\\"ExposeHeaders\\":[\\"ETag\\"]');
  });

  it('aborts a resumable upload left incomplete after one day', () => {
    expect(lifecycleRules(template)).toContainEqual(
      expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } }),
    );
  });

  it('logs every request to the media and SPA buckets into the access-log bucket', () => {
    const logs = ref(stack.accessLogs.bucket);
    const buckets = resources<{ LoggingConfiguration?: { DestinationBucketName: unknown } }>('AWS::S3::Bucket');
    const logged = buckets.filter(
      ([, b]) => JSON.stringify(b.Properties.LoggingConfiguration?.DestinationBucketName) === JSON.stringify(logs),
    );
    expect(logged.map(([id]) => id).sort()).toEqual(
      [logicalId(stack.storage.bucket), buckets.find(([id]) => id.startsWith('WebBucket'))?.[0]].sort(),
    );
  });

  it('aborts incomplete multipart uploads after a day and expires inputs and outputs after the retention period', () => {
    const rules = lifecycleRules(template);
    expect(rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 }, Status: 'Enabled' }),
        expect.objectContaining({ Prefix: 'inputs/', ExpirationInDays: 7, Status: 'Enabled' }),
        expect.objectContaining({ Prefix: 'outputs/', ExpirationInDays: 7, Status: 'Enabled' }),
        expect.objectContaining({ Prefix: 'admitted/', ExpirationInDays: 7, Status: 'Enabled' }),
      ]),
    );
    // The multipart rule must cover the whole bucket.
    const multipart = rules.find((rule) => rule.AbortIncompleteMultipartUpload);
    expect(multipart).toBeDefined();
    expect(multipart?.Prefix).toBeUndefined();
  });

  it('takes the object retention period from the stack props', () => {
    const rules = lifecycleRules(synth({ objectRetentionDays: 14 }).template);
    expect(rules.filter((rule) => rule.Prefix).map((rule) => rule.ExpirationInDays)).toEqual([14, 14, 14]);
  });
});

describe('http api', () => {
  /** Resources of the HTTP API only (the push channel's WebSocket API: test/infra/live-updates.test.ts). */
  const ofHttpApi = <Props>(type: string) =>
    resources<Props & { ApiId?: unknown }>(type).filter(
      ([, r]) => JSON.stringify(r.Properties.ApiId) === JSON.stringify(ref(stack.api.httpApi)),
    );
  const routes = () => new Map(ofHttpApi<RouteProps>('AWS::ApiGatewayV2::Route').map(([, r]) => [r.Properties.RouteKey, r]));

  it('creates exactly one route per ROUTES entry', () => {
    expect([...routes().keys()].sort()).toEqual(ROUTES.map(routeKey).sort());
  });

  it('puts the Cognito JWT authorizer on exactly the routes that need auth', () => {
    const [[authorizerId]] = ofHttpApi('AWS::ApiGatewayV2::Authorizer') as [[string, unknown]];
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
    const [[authorizerId]] = ofHttpApi('AWS::ApiGatewayV2::Authorizer') as [[string, unknown]];
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
    expect(ofHttpApi('AWS::ApiGatewayV2::Authorizer')).toHaveLength(1);
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
    const integrations = ofHttpApi('AWS::ApiGatewayV2::Integration');
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

  it('are the api, s3-event, the five state machine steps and the two healers', () => {
    expect(functions().map(handlerOfFunction)).toEqual([
      'api',
      's3-event',
      'wait-for-slot',
      'stage-inputs',
      'run-on-provider',
      'collect-outputs',
      'finalize',
      'sweeper',
      'execution-ended',
    ]);
    // + the push channel's connection and authorizer functions (test/infra/live-updates.test.ts)
    // + CDK's own handlers: bucket notifications, the SPA deployment, the SPA bucket's auto-delete, the CORS writer.
    template.resourceCountIs('AWS::Lambda::Function', functions().length + 2 + 4);
  });

  it('run the latest Node.js (24) on arm64 with the table, the limits, the state machine and the provider in their environment', () => {
    for (const fn of functions()) {
      const properties = template.toJSON().Resources[logicalId(fn)].Properties;
      expect(properties, handlerOfFunction(fn)).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        Environment: {
          Variables: {
            TABLE_NAME: ref(stack.storage.table),
            BUCKET_NAME: ref(stack.storage.bucket),
            JOB_RETENTION_DAYS: '30',
            MAX_RUNNING: { Ref: 'MaxRunning' },
            QUEUE_TIMEOUT_SECONDS: { Ref: 'QueueTimeoutSeconds' },
            RUN_TIMEOUT_SECONDS: { Ref: 'RunTimeoutSeconds' },
            HEAL_GRACE_MS: { Ref: 'HealGraceMs' },
            RUNNINGHUB_BASE_URL: { Ref: 'RunningHubBaseUrl' },
            RUNNINGHUB_API_KEY_SECRET: ref(stack.providerApiKey),
            RUNNINGHUB_WORKFLOWS: BUNDLED_WORKFLOW_MAP_JSON,
          },
        },
      });
      expect(resolveArn(envOf(fn).STATE_MACHINE_ARN), handlerOfFunction(fn)).toBe(STATE_MACHINE_ARN);
    }
  });

  it('all have the bucket name (config is read at cold start), and only those granted access to it use it', () => {
    for (const fn of functions()) expect(envOf(fn).BUCKET_NAME, handlerOfFunction(fn)).toEqual(ref(stack.storage.bucket));
    expect(
      functions()
        .filter((fn) => grantsOf(fn).some((grant) => grant.action.startsWith('s3:')))
        .map(handlerOfFunction),
    ).toEqual(['api', 's3-event', 'stage-inputs', 'run-on-provider', 'collect-outputs', 'sweeper', 'execution-ended']);
  });

  it('keep the provider key out of the template: a secret only the functions that call the provider may read', () => {
    expect(JSON.stringify(template.toJSON())).not.toContain(BUNDLED_ACCOUNT.apiKey);
    for (const fn of functions()) expect(Object.keys(envOf(fn)), handlerOfFunction(fn)).not.toContain('RUNNINGHUB_API_KEY');
    const readers = functions().filter((fn) =>
      grantsOf(fn).some(
        (grant) =>
          grant.action === 'secretsmanager:GetSecretValue' && JSON.stringify(grant.resource) === JSON.stringify(ref(stack.providerApiKey)),
      ),
    );
    expect(readers.map(handlerOfFunction).sort()).toEqual([
      'api',
      'collect-outputs',
      'execution-ended',
      'finalize',
      'run-on-provider',
      'stage-inputs',
      'sweeper',
    ]);
  });

  it('keep the VAPID keys in a secret Secrets Manager generates, read only by the api (public key) and the functions that end jobs', () => {
    const [id, secret] = resources<{ GenerateSecretString?: unknown; SecretString?: unknown }>('AWS::SecretsManager::Secret').find(
      ([logical]) => logical === logicalId(stack.vapidKey),
    ) as [string, { Properties: { GenerateSecretString?: unknown; SecretString?: unknown } }];
    expect(id).toBeDefined();
    expect(secret.Properties.GenerateSecretString).toBeDefined();
    expect(secret.Properties.SecretString).toBeUndefined();
    for (const fn of functions()) expect(envOf(fn).VAPID_KEY_SECRET, handlerOfFunction(fn)).toEqual(ref(stack.vapidKey));
    const readers = functions().filter((fn) =>
      grantsOf(fn).some(
        (grant) =>
          grant.action === 'secretsmanager:GetSecretValue' && JSON.stringify(grant.resource) === JSON.stringify(ref(stack.vapidKey)),
      ),
    );
    expect(readers.map(handlerOfFunction).sort()).toEqual(['api', 'execution-ended', 'finalize', 'sweeper']);
  });

  it('give only run-on-provider the public API URL, for the provider webhook', () => {
    const withUrl = functions().filter((fn) => 'PUBLIC_API_URL' in envOf(fn));
    expect(withUrl.map(handlerOfFunction)).toEqual(['run-on-provider']);
    expect(envOf(stack.jobs.functions.find((fn) => fn.handlerFile === 'run-on-provider') as IConstruct).PUBLIC_API_URL).toEqual(
      template.findOutputs('ApiUrl').ApiUrl?.Value,
    );
  });

  it('take the limits and timeouts as deploy-time parameters whose defaults come from the stack props, and the provider account', () => {
    const OPERATOR_MAP = BUNDLED_WORKFLOW_MAP_JSON.replace('1950000000000000001', '1904136902449209346');
    const other = synth({
      maxRunning: 5,
      queueTimeoutSeconds: 120,
      runTimeoutSeconds: 60,
      jobRetentionDays: 2,
      runningHub: { baseUrl: 'https://rh.example', workflows: OPERATOR_MAP },
    });
    const parameters = other.template.toJSON().Parameters as Record<string, { Type: string; Default: unknown }>;
    expect(parameters).toMatchObject({
      MaxRunning: { Type: 'Number', Default: 5 },
      QueueTimeoutSeconds: { Type: 'Number', Default: 120 },
      RunTimeoutSeconds: { Type: 'Number', Default: 60 },
      HealGraceMs: { Type: 'Number', Default: 120000 },
      RunningHubBaseUrl: { Type: 'String', Default: 'https://rh.example' },
    });
    for (const fn of allFunctions(other.stack)) {
      expect(
        envOf(fn, other.stack, other.template),
        handlerOf(other.stack.getLogicalId(fn.node.defaultChild as CfnElement), other.template) as string,
      ).toMatchObject({
        MAX_RUNNING: { Ref: 'MaxRunning' },
        JOB_RETENTION_DAYS: '2',
        RUNNINGHUB_WORKFLOWS: OPERATOR_MAP,
      });
    }
  });

  it('refuse to synthesize with a malformed workflow map, naming the tool and field', () => {
    const map = JSON.parse(BUNDLED_WORKFLOW_MAP_JSON);
    delete map['try-on'].inputs.garment;
    expect(() => synth({ runningHub: { workflows: JSON.stringify(map) } })).toThrow(
      'Context runningHubWorkflows: "try-on" needs inputs.garment ({nodeId, fieldName})',
    );
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
  const step = (handler: string) => () => stack.jobs.functions.find((fn) => fn.handlerFile === handler) as IConstruct;
  const [waitFn, stageFn, runFn, collectFn, finalizeFn] = [
    'wait-for-slot',
    'stage-inputs',
    'run-on-provider',
    'collect-outputs',
    'finalize',
  ].map(step) as [() => IConstruct, () => IConstruct, () => IConstruct, () => IConstruct, () => IConstruct];

  it('lets the s3-event function read inputs and copy them to admitted/: no other put, no delete, no outputs', () => {
    const grants = s3Grants(stack.admission.s3EventFunction);
    expect(grants.filter((g) => /^s3:(\*|Delete|Abort|Restore|Replicate)/.test(g.action))).toEqual([]);
    expect(grants.filter((g) => g.action === 's3:GetObject').map((g) => g.resource)).toEqual(
      expect.arrayContaining([objectsArn('inputs/'), objectsArn('admitted/')]),
    );
    expect(grants.filter((g) => g.action === 's3:GetObject')).toHaveLength(2);
    expect(grants.filter((g) => g.action === 's3:PutObject').map((g) => g.resource)).toEqual([objectsArn('admitted/')]);
    expect(grants.filter((g) => g.action === 's3:ListBucket').map((g) => g.resource)).toEqual([bucketArn()]);
    expect(new Set(grants.map((g) => g.action))).toEqual(new Set(['s3:GetObject', 's3:PutObject', 's3:ListBucket']));
  });

  it('lets the api function put, list the parts of and abort inputs, read outputs, and nothing more in the bucket', () => {
    const grants = s3Grants(stack.admission.apiFunction);
    // PutObject covers CreateMultipartUpload, UploadPart (the presigned part URLs) and CompleteMultipartUpload.
    for (const action of ['s3:PutObject', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload']) {
      expect(
        grants.filter((g) => g.action === action).map((g) => g.resource),
        action,
      ).toEqual([objectsArn('inputs/')]);
    }
    expect(grants.filter((g) => g.action === 's3:GetObject').map((g) => g.resource)).toEqual([objectsArn('outputs/')]);
    expect(new Set(grants.map((g) => g.action))).toEqual(
      new Set(['s3:PutObject', 's3:ListMultipartUploadParts', 's3:AbortMultipartUpload', 's3:GetObject', 's3:ListBucket']),
    );
  });

  it('lets run-on-provider and stage-inputs read admitted inputs only, collect-outputs put outputs, and the other steps not touch the bucket', () => {
    const grants = (fn: IConstruct) => s3Grants(fn).map((g) => ({ action: g.action, resource: g.resource }));
    for (const fn of [runFn(), stageFn()]) {
      expect(grants(fn)).toEqual(
        expect.arrayContaining([
          { action: 's3:GetObject', resource: objectsArn('admitted/') },
          { action: 's3:ListBucket', resource: bucketArn() },
        ]),
      );
      expect(grants(fn)).toHaveLength(2);
    }
    expect(grants(collectFn())).toEqual(streamedOutputs());
    expect(grants(waitFn())).toEqual([]);
    expect(grants(finalizeFn())).toEqual([]);
  });

  it('lets the healers put outputs (a finished task collected late), and nothing more in the bucket', () => {
    const grants = (fn: IConstruct) => s3Grants(fn).map((g) => ({ action: g.action, resource: g.resource }));
    expect(grants(stack.healing.cleanup)).toEqual(streamedOutputs());
    // The sweeper also re-drives a lost admission: what the s3-event function may do, plus outputs.
    expect(grants(stack.healing.sweeper)).toEqual(
      expect.arrayContaining([
        ...streamedOutputs(),
        { action: 's3:PutObject', resource: objectsArn('admitted/') },
        { action: 's3:GetObject', resource: objectsArn('inputs/') },
        { action: 's3:GetObject', resource: objectsArn('admitted/') },
        { action: 's3:ListBucket', resource: bucketArn() },
      ]),
    );
    expect(new Set(grants(stack.healing.sweeper).map((g) => g.action))).toEqual(
      new Set(['s3:GetObject', 's3:PutObject', 's3:ListBucket', 's3:AbortMultipartUpload']),
    );
  });

  it('grants each function exactly the DynamoDB actions its code calls (table-access.ts), on the table and the indexes it queries', () => {
    for (const fn of allFunctions()) {
      const handler = handlerOfFunction(fn);
      const access = TABLE_ACCESS[handler];
      expect(access, handler).toBeDefined();
      const dynamo = grantsOf(fn).filter((g) => g.action.startsWith('dynamodb:'));
      const onTable = dynamo.filter((g) => JSON.stringify(g.resource) === JSON.stringify(tableArn())).map((g) => g.action);
      const onIndexes = dynamo.filter((g) => JSON.stringify(g.resource) !== JSON.stringify(tableArn()));
      expect(onTable.sort(), handler).toEqual(access?.actions.map((a) => `dynamodb:${a}`).sort());
      expect(onIndexes, handler).toEqual((access?.indexes ?? []).map((name) => ({ action: 'dynamodb:Query', resource: indexArn(name) })));
    }
    // Nothing reads the whole table, batch-writes, reads streams or changes the table; only the sweeper checks a
    // condition on an item it does not write (a leaked slot's job, in the transaction that releases the slot).
    const all = allFunctions().flatMap((fn) => grantsOf(fn).map((g) => g.action));
    expect(all.filter((a) => /dynamodb:(Scan|Batch|.*Stream|DescribeTable|PartiQL|\*)/.test(a))).toEqual([]);
    const checkers = allFunctions().filter((fn) => grantsOf(fn).some((g) => g.action === 'dynamodb:ConditionCheckItem'));
    expect(checkers.map(handlerOfFunction)).toEqual(['sweeper']);
  });

  it('grants each function exactly the states actions it needs, on the jobs state machine or its executions only', () => {
    const statesGrants = (fn: IConstruct) =>
      grantsOf(fn)
        .filter((grant) => grant.action.startsWith('states:'))
        .map((grant) => `${grant.action} on ${JSON.stringify(resolveArn(grant.resource))}`)
        .sort();
    const on = (arn: string, ...actions: string[]) => actions.map((action) => `${action} on ${JSON.stringify(arn)}`);
    const expected: [IConstruct, string[]][] = [
      // Cancel stops the execution; cancel, release and the provider webhook answer parked task tokens.
      [stack.admission.apiFunction, [...on(STATE_MACHINE_ARN, ...SEND_TASK_RESPONSES), ...on(EXECUTIONS_ARN, 'states:StopExecution')]],
      [stack.admission.s3EventFunction, on(STATE_MACHINE_ARN, 'states:StartExecution')],
      // Each step may wake another parked execution (slot handed over) or answer its own token; staging answers none.
      ...stack.jobs.functions.map((fn): [IConstruct, string[]] => [
        fn,
        fn === stageFn() ? [] : on(STATE_MACHINE_ARN, ...SEND_TASK_RESPONSES),
      ]),
      // The healers also inspect and stop the executions of the jobs they finalize; the sweeper starts the one of a
      // job it admits for a lost S3 event, and lists the running executions.
      ...[stack.healing.sweeper, stack.healing.cleanup].map((fn): [IConstruct, string[]] => [
        fn,
        [
          ...on(
            STATE_MACHINE_ARN,
            ...SEND_TASK_RESPONSES,
            ...(fn === stack.healing.sweeper ? ['states:StartExecution', 'states:ListExecutions'] : []),
          ),
          ...on(EXECUTIONS_ARN, 'states:DescribeExecution', 'states:StopExecution'),
        ],
      ]),
    ];
    expect(expected).toHaveLength(allFunctions().length);
    for (const [fn, actions] of expected) {
      expect(statesGrants(fn), handlerOfFunction(fn)).toEqual([...actions].sort());
    }
  });

  it('attaches no inline or managed policy to the function roles, and lets each write only to its own log group', () => {
    const roles = resources<{ Policies?: unknown; ManagedPolicyArns?: unknown[] }>('AWS::IAM::Role');
    for (const fn of allFunctions()) {
      const [, role] = roles.find(([id]) => id === logicalId(fn.role as IConstruct)) ?? [];
      expect(role, handlerOfFunction(fn)).toBeDefined();
      expect(role?.Properties.Policies, handlerOfFunction(fn)).toBeUndefined();
      expect(role?.Properties.ManagedPolicyArns, handlerOfFunction(fn)).toBeUndefined();
      const logGroup = template.toJSON().Resources[logicalId(fn)].Properties.LoggingConfig.LogGroup.Ref;
      const logs = grantsOf(fn).filter((g) => g.action.startsWith('logs:'));
      expect(logs.map((g) => g.action).sort(), handlerOfFunction(fn)).toEqual(['logs:CreateLogStream', 'logs:PutLogEvents']);
      for (const g of logs) expect(g.resource).toEqual({ 'Fn::GetAtt': [logGroup, 'Arn'] });
    }
  });

  it('scopes every grant of every function to the table, the bucket, the jobs state machine or its on-failure queue, never to *', () => {
    const table = tableArn();
    const indexes = [indexArn(TABLE_SCHEMA.byUserIndex.name), indexArn(TABLE_SCHEMA.liveIndex.name)];
    const bucket = [bucketArn(), objectsArn('inputs/'), objectsArn('outputs/'), objectsArn('admitted/')];
    for (const fn of allFunctions()) {
      const grants = grantsOf(fn);
      expect(grants.length, handlerOfFunction(fn)).toBeGreaterThan(0);
      for (const grant of grants) {
        const where = `${handlerOfFunction(fn)}: ${grant.action} on ${JSON.stringify(grant.resource)}`;
        expect(grant.action, where).not.toMatch(/\*/);
        expect(resolveArn(grant.resource), where).not.toBe('*');
        if (grant.action.startsWith('dynamodb:')) expect([table, ...indexes], where).toContainEqual(grant.resource);
        else if (grant.action.startsWith('logs:')) expect(JSON.stringify(grant.resource), where).toMatch(/Logs[0-9A-F]{8}","Arn"/);
        else if (grant.action.startsWith('s3:')) expect(bucket, where).toContainEqual(grant.resource);
        else if (grant.action.startsWith('states:'))
          expect([STATE_MACHINE_ARN, EXECUTIONS_ARN], where).toContain(resolveArn(grant.resource));
        else if (grant.action.startsWith('secretsmanager:'))
          expect([ref(stack.providerApiKey), ref(stack.vapidKey)], where).toContainEqual(grant.resource);
        else if (grant.action === 'execute-api:ManageConnections')
          expect(JSON.stringify(grant.resource), where).toContain(`${JSON.stringify(ref(stack.live.api))},"/live/POST/@connections/*"`);
        else if (grant.action.startsWith('sqs:') && fn === stack.admission.s3EventFunction)
          expect(grant.resource, where).toEqual({ 'Fn::GetAtt': [logicalId(stack.admission.failedEvents), 'Arn'] });
        else expect.fail(`unexpected grant ${where}`);
      }
    }
  });

  it('lets the state machine invoke exactly its four step functions and nothing else', () => {
    const machines = resources<{ RoleArn: { 'Fn::GetAtt': [string, string] } }>('AWS::StepFunctions::StateMachine');
    const roleId = machines[0]?.[1].Properties.RoleArn['Fn::GetAtt'][0];
    const grants = resources<PolicyProps>('AWS::IAM::Policy')
      .filter(([, policy]) => JSON.stringify(policy.Properties.Roles) === JSON.stringify([{ Ref: roleId }]))
      .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement)
      // Besides invoking: log delivery and X-Ray, which have no resource-level permissions.
      .filter((statement) => [statement.Action].flat().some((action) => action.startsWith('lambda:')));
    const steps = stack.jobs.functions.map((fn) => ({ 'Fn::GetAtt': [logicalId(fn), 'Arn'] }));
    const byJson = (a: unknown, b: unknown) => JSON.stringify(a).localeCompare(JSON.stringify(b));
    expect(grants).toHaveLength(1);
    expect(grants[0]?.Effect).toBe('Allow');
    expect(grants[0]?.Action).toBe('lambda:InvokeFunction');
    // The functions and their versions/aliases.
    expect([grants[0]?.Resource].flat().sort(byJson)).toEqual(
      [...steps, ...steps.map((arn) => ({ 'Fn::Join': ['', [arn, ':*']] }))].sort(byJson),
    );
  });
});

describe('job state machine', () => {
  const state = (name: string) => {
    const found = definitionOf().States[name];
    if (!found) throw new Error(`no state ${name}`);
    return found;
  };
  const tasks = () => Object.entries(definitionOf().States).filter(([, s]) => s.Type === 'Task');

  it('is one Standard state machine named <stack>-jobs, the one the functions are granted on and told about', () => {
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    const [[id, machine]] = resources<{ StateMachineName: string; StateMachineType: string }>('AWS::StepFunctions::StateMachine') as [
      [string, { Properties: { StateMachineName: string; StateMachineType: string } }],
    ];
    expect(machine.Properties.StateMachineType).toBe('STANDARD');
    expect(machine.Properties.StateMachineName).toBe(`${stack.stackName}-jobs`);
    expect(`arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${machine.Properties.StateMachineName}`).toBe(STATE_MACHINE_ARN);
    expect(id).toBe(logicalId(stack.jobs.stateMachine));
  });

  it('waits for a slot, runs on the provider, collects the outputs and finalizes, then succeeds at Done', () => {
    const definition = definitionOf();
    const path = [definition.StartAt];
    // A Choice goes on by its Default: a slot, not the staging detour.
    const nextOf = (name: string) => definition.States[name]?.Next ?? definition.States[name]?.Default;
    for (let name = definition.StartAt; nextOf(name); name = nextOf(name) as string) {
      path.push(nextOf(name) as string);
      if (path.length > 20) break;
    }
    expect(path).toEqual(['WaitForSlot', 'SlotOrStage', 'RunOnProvider', 'CollectOutputs', 'Finalize', 'Done']);
    expect(state('Done').Type).toBe('Succeed');
  });

  it('invokes, in each task, the function whose handler matches the task', () => {
    const expected: Record<string, string> = {
      WaitForSlot: 'wait-for-slot',
      StageInputs: 'stage-inputs',
      RunOnProvider: 'run-on-provider',
      CollectOutputs: 'collect-outputs',
      Finalize: 'finalize',
      FinalizeFailure: 'finalize',
    };
    const actual = Object.fromEntries(tasks().map(([name, task]) => [name, handlerOf(invokedFunctionId(task) ?? '')]));
    expect(actual).toEqual(expected);
    for (const [name, task] of tasks()) {
      expect(task.Resource, name).toMatch(/^arn:\$\{Ref:AWS::Partition\}:states:::lambda:invoke(\.waitForTaskToken)?$/);
      expect(task.Parameters?.Payload?.['jobId.$'], name).toBe('$.jobId');
    }
  });

  it('parks WaitForSlot and RunOnProvider on a task token, with timeouts read from the execution input', () => {
    const timeouts: Record<string, string> = { WaitForSlot: '$.queueTimeoutSeconds', RunOnProvider: '$.runTimeoutSeconds' };
    for (const [name, path] of Object.entries(timeouts)) {
      const task = state(name);
      expect(task.Resource, name).toMatch(/:states:::lambda:invoke\.waitForTaskToken$/);
      expect(task.Parameters?.Payload?.['taskToken.$'], name).toBe('$$.Task.Token');
      expect(task.TimeoutSecondsPath, name).toBe(path);
      expect(task.TimeoutSeconds, name).toBeUndefined();
    }
    // Nobody answers a token for the other tasks: they must return with the Lambda.
    for (const [name, task] of tasks().filter(([n]) => !(n in timeouts))) {
      expect(task.Resource, name).toMatch(/:states:::lambda:invoke$/);
      expect(JSON.stringify(task.Parameters), name).not.toContain('$$.Task.Token');
    }
  });

  it('sends a RunOnProvider refused by the provider (ProviderBusy, ProviderUnavailable) back to WaitForSlot after a pause, before any other catcher', () => {
    const catchers = state('RunOnProvider').Catch ?? [];
    const busy = catchers.findIndex((c) => c.ErrorEquals.includes('ProviderBusy'));
    expect(catchers[busy]).toMatchObject({
      ErrorEquals: ['ProviderBusy', 'ProviderUnavailable'],
      Next: 'ProviderBusyBackoff',
      ResultPath: '$.busy',
    });
    // It parks again once the key's answer has aged, even when no release comes to wake the queue.
    expect(state('ProviderBusyBackoff')).toMatchObject({ Type: 'Wait', Seconds: BUSY_HOLD_MS / 1000, Next: 'WaitForSlot' });
    expect(busy).toBeLessThan(catchers.findIndex((c) => c.ErrorEquals.includes('States.ALL')));
    // No retry in place: a retry would create again while the job still holds a slot the key cannot use.
    expect((state('RunOnProvider').Retry ?? []).some((r) => r.ErrorEquals.includes('ProviderBusy'))).toBe(false);
  });

  it('sends a requeued RunOnProvider back to WaitForSlot with what is left of its queue timeout, not a fresh one', () => {
    const catchers = state('RunOnProvider').Catch ?? [];
    const requeued = catchers.findIndex((c) => c.ErrorEquals.includes('Requeued'));
    expect(catchers[requeued]).toMatchObject({ ErrorEquals: ['Requeued'], Next: 'QueueTimeLeft', ResultPath: '$.requeued' });
    expect(requeued).toBeLessThan(catchers.findIndex((c) => c.ErrorEquals.includes('States.ALL')));
    // The Cause (`{"queueTimeoutSeconds": n}`, from lifecycle.startRun) replaces the input's field WaitForSlot times out on.
    expect(state('QueueTimeLeft')).toMatchObject({
      Type: 'Pass',
      Parameters: { 'state.$': 'States.JsonMerge($, States.StringToJson($.requeued.Cause), false)' },
      OutputPath: '$.state',
      Next: 'ProviderBusyBackoff',
    });
  });

  it('sends the next job in line, woken with {stage: true}, through StageInputs back to WaitForSlot for what is left of its queue timeout', () => {
    expect(state('WaitForSlot').Next).toBe('SlotOrStage');
    expect(state('SlotOrStage')).toMatchObject({
      Type: 'Choice',
      Choices: [
        {
          And: [
            { Variable: '$.grant.stage', IsPresent: true },
            { Variable: '$.grant.stage', BooleanEquals: true },
          ],
          Next: 'StageInputs',
        },
      ],
      Default: 'RunOnProvider',
    });
    expect(state('StageInputs')).toMatchObject({
      ResultSelector: { 'queueTimeoutSeconds.$': '$.Payload.queueTimeoutSeconds' },
      ResultPath: '$.staged',
      Next: 'ParkAgain',
    });
    // `{queueTimeoutSeconds}` (staging.ts, counted from admission) replaces the field WaitForSlot times out on.
    expect(state('ParkAgain')).toMatchObject({
      Type: 'Pass',
      Parameters: { 'state.$': 'States.JsonMerge($, $.staged, false)' },
      OutputPath: '$.state',
      Next: 'WaitForSlot',
    });
    expect((state('StageInputs').Catch ?? []).map((c) => [c.ErrorEquals, c.Next])).toEqual([
      [['JobFinished'], 'Done'],
      [['States.ALL'], 'WaitForSlot'],
    ]);
  });

  it('catches every error of every task into FinalizeFailure, and a failing FinalizeFailure into a Fail state', () => {
    const definition = definitionOf();
    expect(
      tasks()
        .map(([name]) => name)
        .sort(),
    ).toEqual(['CollectOutputs', 'Finalize', 'FinalizeFailure', 'RunOnProvider', 'StageInputs', 'WaitForSlot']);
    expect(handlerOf(invokedFunctionId(state('FinalizeFailure')) ?? '')).toBe('finalize');
    for (const [name, task] of tasks()) {
      const catchers = task.Catch ?? [];
      expect(catchers.length, name).toBeGreaterThan(0);
      const last = catchers.at(-1) as Catcher;
      expect(last.ErrorEquals, name).toEqual(['States.ALL']);
      if (name === 'FinalizeFailure') {
        expect(definition.States[last.Next]?.Type, name).toBe('Fail');
      } else if (name === 'StageInputs') {
        // Staging ahead is an optimisation: when it fails the job waits on, and the run stages its inputs.
        expect(last, name).toMatchObject({ Next: 'WaitForSlot', ResultPath: '$.stageFailure' });
      } else {
        expect(last.Next, name).toBe('FinalizeFailure');
        // FinalizeFailure reads the error at $.failure and the job id beside it.
        expect(last.ResultPath, name).toBe('$.failure');
        expect(state('FinalizeFailure').Parameters?.Payload?.['failure.$']).toBe('$.failure');
      }
      // Skipping finalization is only right when the job is already final (cancelled or healed meanwhile).
      for (const catcher of catchers.filter((c) => definition.States[c.Next]?.Type === 'Succeed')) {
        expect(catcher.ErrorEquals, `${name} → ${catcher.Next}`).toEqual(['JobFinished']);
      }
    }
  });

  it('keeps the job id in the state on every path: task results and caught errors go under a key of their own', () => {
    const definition = definitionOf();
    for (const [name, s] of Object.entries(definition.States)) {
      // A Pass that rebuilds the state merges the whole input into it (QueueTimeLeft), so the job id goes through.
      const mergesInput = /^States\.JsonMerge\(\$,/.test(String((s.Parameters as Record<string, unknown> | undefined)?.['state.$'] ?? ''));
      if (s.Type === 'Pass' && mergesInput) {
        expect(s.OutputPath, name).toBe('$.state');
      } else if (s.Type === 'Task' || s.Type === 'Pass') {
        // undefined means "$": the result would replace the whole state, job id included.
        expect(s.ResultPath === null || /^\$\.\w+/.test(s.ResultPath ?? ''), `${name} ResultPath ${s.ResultPath}`).toBe(true);
        expect(s.OutputPath ?? '$', name).toBe('$');
      }
      for (const catcher of s.Catch ?? []) {
        if (definition.States[catcher.Next]?.Type === 'Task') {
          expect(catcher.ResultPath ?? '$', `${name} → ${catcher.Next}`).toMatch(/^\$\.\w+/);
        }
      }
    }
  });

  it('ends every path at Done or a Fail state: no dead ends, no unreachable or trapped states', () => {
    const definition = definitionOf();
    const { States: states } = definition;
    const terminal = (name: string) => states[name]?.Type === 'Fail' || (name === 'Done' && states[name]?.Type === 'Succeed');
    // Walk the graph from StartAt.
    const reachable = new Set<string>();
    const queue = [definition.StartAt];
    while (queue.length > 0) {
      const name = queue.shift() as string;
      if (reachable.has(name)) continue;
      reachable.add(name);
      const s = states[name];
      expect(s, `${name} is referenced but missing`).toBeDefined();
      expect(['Task', 'Pass', 'Choice', 'Wait', 'Succeed', 'Fail'], `${name} has a type this walk does not follow`).toContain(s?.Type);
      if (terminal(name)) continue;
      // A non-terminal state that ends (End: true or a Succeed other than Done) is a dead end.
      expect(s?.End, `${name} ends the execution`).toBeUndefined();
      expect(s?.Type, `${name} succeeds outside Done`).not.toBe('Succeed');
      const next = successorsOf(s as State);
      expect(next.length, `${name} leads nowhere`).toBeGreaterThan(0);
      queue.push(...next);
    }
    expect([...reachable].sort(), 'unreachable states').toEqual(Object.keys(states).sort());
    // From every state some terminal is reachable (no loop without an exit).
    const exits = new Set(Object.keys(states).filter(terminal));
    for (let grew = true; grew; ) {
      grew = false;
      for (const [name, s] of Object.entries(states)) {
        if (!exits.has(name) && successorsOf(s).some((next) => exits.has(next))) {
          exits.add(name);
          grew = true;
        }
      }
    }
    expect(
      Object.keys(states).filter((name) => !exits.has(name)),
      'trapped states',
    ).toEqual([]);
    expect(
      Object.keys(states)
        .filter(terminal)
        .some((name) => states[name]?.Type === 'Fail'),
    ).toBe(true);
    expect(states.Done?.Type).toBe('Succeed');
  });
});

describe('healing', () => {
  type Target = { Arn: unknown; RetryPolicy?: { MaximumRetryAttempts: number } };
  const rules = () =>
    resources<{ ScheduleExpression?: string; EventPattern?: unknown; State: string; Targets: Target[] }>('AWS::Events::Rule');
  const fnArn = (fn: IConstruct) => ({ 'Fn::GetAtt': [logicalId(fn), 'Arn'] });

  it('runs the sweeper every minute', () => {
    const schedules = rules().filter(([, rule]) => rule.Properties.ScheduleExpression);
    expect(schedules.map(([, rule]) => rule.Properties)).toEqual([
      expect.objectContaining({
        ScheduleExpression: 'rate(1 minute)',
        State: 'ENABLED',
        Targets: [expect.objectContaining({ Arn: fnArn(stack.healing.sweeper) })],
      }),
    ]);
  });

  it('sends every failed, timed-out or aborted execution of the jobs state machine to the execution-ended function', () => {
    const patterns = rules().filter(([, rule]) => rule.Properties.EventPattern);
    expect(patterns.map(([, rule]) => rule.Properties)).toEqual([
      expect.objectContaining({
        State: 'ENABLED',
        EventPattern: {
          source: ['aws.states'],
          'detail-type': ['Step Functions Execution Status Change'],
          detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [ref(stack.jobs.stateMachine)] },
        },
        Targets: [
          expect.objectContaining({ Arn: fnArn(stack.healing.cleanup), RetryPolicy: { MaximumRetryAttempts: expect.any(Number) } }),
        ],
      }),
    ]);
    // A lost event would leave the job to the sweeper only: EventBridge must retry.
    expect(patterns[0]?.[1].Properties.Targets[0]?.RetryPolicy?.MaximumRetryAttempts).toBeGreaterThan(0);
  });
});

describe('outputs', () => {
  it('exports what clients and operators need', () => {
    expect(Object.keys(template.findOutputs('*')).sort()).toEqual(
      [
        'ApiUrl',
        'BucketName',
        'LiveUrl',
        'ProviderApiKeySecret',
        'StateMachineArn',
        'TableName',
        'UserPoolClientId',
        'UserPoolId',
        'WebUrl',
      ].sort(),
    );
  });

  it('exports the jobs state machine ARN', () => {
    expect(template.findOutputs('StateMachineArn').StateMachineArn?.Value).toEqual(ref(stack.jobs.stateMachine));
  });
});

describe('web', () => {
  beforeAll(() => {
    ({ stack, template } = synth());
  });

  it('serves the SPA from a private bucket through CloudFront with origin access control', () => {
    template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: Match.objectLike({ OriginAccessControlOriginType: 's3', SigningBehavior: 'always' }),
    });
    const distribution = Object.values(template.findResources('AWS::CloudFront::Distribution'))[0]?.Properties.DistributionConfig;
    expect(distribution.DefaultRootObject).toBe('index.html');
    expect(distribution.DefaultCacheBehavior.ViewerProtocolPolicy).toBe('redirect-to-https');
    expect(distribution.Origins.find((o: { S3OriginConfig?: unknown }) => o.S3OriginConfig)?.OriginAccessControlId).toBeDefined();
  });

  it('routes /api/* to the HTTP API on the same origin, uncached, with every method', () => {
    const distribution = Object.values(template.findResources('AWS::CloudFront::Distribution'))[0]?.Properties.DistributionConfig;
    const api = distribution.CacheBehaviors.find((b: { PathPattern: string }) => b.PathPattern === '/api/*');
    expect(api).toMatchObject({ ViewerProtocolPolicy: 'https-only', AllowedMethods: expect.arrayContaining(['POST', 'GET', 'DELETE']) });
    expect(api.CachePolicyId).toBe('4135ea2d-6df8-44a3-9df3-4b5a84be39ad'); // CachingDisabled
    const origin = distribution.Origins.find((o: { Id: string }) => o.Id === api.TargetOriginId);
    expect(JSON.stringify(origin.DomainName)).toContain(logicalId(stack.api.httpApi));
  });

  it('falls back to index.html for app routes only, never for /api or files', () => {
    const code = Object.values(template.findResources('AWS::CloudFront::Function'))[0]?.Properties.FunctionCode as string;
    const handler = new Function(`${code}; return handler;`)() as (e: { request: { uri: string } }) => { uri: string };
    const rewrite = (uri: string) => handler({ request: { uri } }).uri;
    expect(rewrite('/jobs/123')).toBe('/index.html');
    expect(rewrite('/')).toBe('/index.html');
    expect(rewrite('/assets/app.js')).toBe('/assets/app.js');
    expect(rewrite('/config.js')).toBe('/config.js');
    expect(rewrite('/api/jobs/123')).toBe('/api/jobs/123');
  });

  it('deploys a runtime config.js naming the API and the Cognito pool, not build-time constants', () => {
    const deployment = Object.values(template.findResources('Custom::CDKBucketDeployment'))[0]?.Properties;
    const markers = JSON.stringify(deployment.SourceMarkers ?? deployment);
    expect(markers).toContain(logicalId(stack.auth.userPool));
    expect(markers).toContain(logicalId(stack.auth.userPoolClient));
    // sw.js too: a stale edge copy would keep installed apps on the old build.
    expect(deployment.DistributionPaths).toEqual(['/index.html', '/config.js', '/sw.js', '/manifest.webmanifest']);
  });
});

describe('credits', () => {
  it('serves GET /api/credits/ledger behind the Cognito authorizer, from the api function', () => {
    const route = resources<RouteProps>('AWS::ApiGatewayV2::Route').find(([, r]) => r.Properties.RouteKey === 'GET /api/credits/ledger');
    expect(route?.[1].Properties).toMatchObject({ AuthorizationType: 'JWT', AuthorizerId: expect.anything() });
  });

  it('gives only the api function SIGNUP_CREDITS, a deploy-time parameter (default 3, or the stack prop)', () => {
    const parameters = () => template.toJSON().Parameters as Record<string, { Type: string; Default: unknown; MinValue?: number }>;
    expect(parameters().SignupCredits).toMatchObject({ Type: 'Number', Default: 3, MinValue: 0 });
    for (const fn of allFunctions()) {
      const env = envOf(fn);
      if (fn === stack.admission.apiFunction) expect(env.SIGNUP_CREDITS).toEqual({ Ref: 'SignupCredits' });
      else expect(env.SIGNUP_CREDITS, handlerOfFunction(fn)).toBeUndefined();
    }
    const other = synth({ signupCredits: 10 });
    expect((other.template.toJSON().Parameters as Record<string, { Default: unknown }>).SignupCredits?.Default).toBe(10);
  });

  it('exports the table name the operator command reads', () => {
    expect(template.findOutputs('TableName').TableName?.Value).toEqual({ Ref: logicalId(stack.storage.table) });
  });
});

describe('lost admission', () => {
  const queueId = () => logicalId(stack.admission.failedEvents);

  it('sends an S3 event the admission function failed on every attempt to an encrypted, TLS-only SQS queue', () => {
    const [[, config] = []] = resources<{
      FunctionName: unknown;
      MaximumRetryAttempts: number;
      DestinationConfig: { OnFailure: { Destination: unknown } };
    }>('AWS::Lambda::EventInvokeConfig');
    expect(config?.Properties).toMatchObject({
      FunctionName: ref(stack.admission.s3EventFunction),
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueId(), 'Arn'] } } },
    });
    expect(template.toJSON().Resources[queueId()].Properties).toMatchObject({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1_209_600,
    });
    const [[, policy] = []] = resources<{ PolicyDocument: { Statement: { Effect: string; Condition?: unknown }[] } }>(
      'AWS::SQS::QueuePolicy',
    );
    expect(policy?.Properties.PolicyDocument.Statement).toContainEqual(
      expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
    );
    // Only the s3-event function may send to it (Lambda sends as the function's role).
    const senders = allFunctions().filter((fn) => grantsOf(fn).some((g) => g.action.startsWith('sqs:')));
    expect(senders).toEqual([stack.admission.s3EventFunction]);
    expect(
      grantsOf(stack.admission.s3EventFunction)
        .filter((g) => g.action.startsWith('sqs:'))
        .map((g) => g.action),
    ).toContain('sqs:SendMessage');
  });

  it('alarms as soon as one failed event is in the queue', () => {
    const alarms = resources<{ Namespace: string; MetricName: string; Dimensions: { Name: string; Value: unknown }[]; Threshold: number }>(
      'AWS::CloudWatch::Alarm',
    ).filter(([, a]) => a.Properties.Namespace === 'AWS/SQS');
    expect(alarms.map(([, a]) => a.Properties)).toEqual([
      expect.objectContaining({
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId(), 'QueueName'] } }],
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      }),
    ]);
  });
});
