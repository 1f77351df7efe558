import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import type { Route } from '../http/api-event';
import type { FunctionSpec } from '../lambda/lambda-service';
import type { CfnResource, Resolver } from './resolver';

/** Reads what the local stack runs from the template: functions, tables, buckets and the event wiring between them. */

type Props = Record<string, unknown>;

function ofType(resolver: Resolver, type: string): [string, CfnResource][] {
  return Object.entries(resolver.resources).filter(([, resource]) => resource.Type === type);
}

/** A Ref or Fn::GetAtt Arn pointing at a logical id. */
function referencedId(value: unknown): string | undefined {
  if (!value || typeof value !== 'object') return undefined;
  const ref = (value as { Ref?: unknown }).Ref;
  if (typeof ref === 'string') return ref;
  const getAtt = (value as { 'Fn::GetAtt'?: unknown })['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  return undefined;
}

/** Every Node.js function with a code asset in the assembly (CDK's own Python handlers are deploy-time only). */
export function functionSpecs(assets: Map<string, string>, resolver: Resolver): FunctionSpec[] {
  const invokeConfigs = new Map(
    ofType(resolver, 'AWS::Lambda::EventInvokeConfig').map(([, r]) => [referencedId(r.Properties?.FunctionName), r.Properties ?? {}]),
  );
  return ofType(resolver, 'AWS::Lambda::Function').flatMap(([logicalId, resource]) => {
    const props = resource.Properties ?? {};
    const objectKey = (props.Code as { S3Key?: unknown } | undefined)?.S3Key;
    const codeDir = typeof objectKey === 'string' ? assets.get(objectKey) : undefined;
    if (!String(props.Runtime ?? '').startsWith('nodejs') || !codeDir) return [];
    const variables = ((props.Environment as Props | undefined)?.Variables ?? {}) as Props;
    const invoke = invokeConfigs.get(logicalId) as
      | { MaximumRetryAttempts?: number; MaximumEventAgeInSeconds?: number; DestinationConfig?: { OnFailure?: { Destination?: unknown } } }
      | undefined;
    const onFailure = invoke?.DestinationConfig?.OnFailure?.Destination;
    return [
      {
        logicalId,
        name: resolver.ref(logicalId),
        arn: resolver.getAtt(logicalId, 'Arn'),
        codeDir,
        handler: String(props.Handler ?? 'index.handler'),
        // CloudFormation's defaults when the template leaves them out.
        timeoutSeconds: Number(props.Timeout ?? 3),
        memorySize: Number(props.MemorySize ?? 128),
        environment: Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, resolver.string(value)])),
        reservedConcurrency: props.ReservedConcurrentExecutions === undefined ? undefined : Number(props.ReservedConcurrentExecutions),
        async: {
          maximumRetryAttempts: invoke?.MaximumRetryAttempts ?? 2,
          maximumEventAgeSeconds: invoke?.MaximumEventAgeInSeconds ?? 21_600,
          onFailure: onFailure === undefined ? undefined : resolver.string(onFailure),
        },
      },
    ];
  });
}

/** The handler file a function was built from (metadata GhostlessFunction adds), for naming it in reports and tests. */
export function handlerFileOf(resolver: Resolver, logicalId: string): string | undefined {
  const handler = resolver.resources[logicalId]?.Metadata?.['ghostless:handler'];
  return typeof handler === 'string' ? handler : undefined;
}

/** CreateTable inputs exactly as the template declares each table (keys, indexes, TTL attribute). */
export function tableDefinitions(resolver: Resolver): { input: CreateTableCommandInput; ttlAttribute?: string }[] {
  return ofType(resolver, 'AWS::DynamoDB::Table').map(([logicalId, resource]) => {
    const props = resolver.resolve(resource.Properties ?? {}) as Props & {
      GlobalSecondaryIndexes?: { IndexName: string; KeySchema: unknown; Projection: unknown }[];
      TimeToLiveSpecification?: { AttributeName?: string; Enabled?: boolean };
    };
    return {
      input: {
        TableName: resolver.ref(logicalId),
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: props.AttributeDefinitions as CreateTableCommandInput['AttributeDefinitions'],
        KeySchema: props.KeySchema as CreateTableCommandInput['KeySchema'],
        GlobalSecondaryIndexes: props.GlobalSecondaryIndexes?.map(({ IndexName, KeySchema, Projection }) => ({
          IndexName,
          KeySchema,
          Projection,
        })) as CreateTableCommandInput['GlobalSecondaryIndexes'],
      },
      ttlAttribute: props.TimeToLiveSpecification?.Enabled ? props.TimeToLiveSpecification.AttributeName : undefined,
    };
  });
}

export function bucketNames(resolver: Resolver): string[] {
  return ofType(resolver, 'AWS::S3::Bucket').map(([logicalId]) => resolver.ref(logicalId));
}

/** The template's Secrets Manager secrets: their ARN (what Ref gives) and name. */
export function templateSecrets(resolver: Resolver): { arn: string; name: string }[] {
  return ofType(resolver, 'AWS::SecretsManager::Secret').map(([logicalId]) => {
    const arn = resolver.ref(logicalId);
    return { arn, name: arn.slice(arn.indexOf(':secret:') + ':secret:'.length) };
  });
}

export interface S3Notification {
  bucket: string;
  /** e.g. `s3:ObjectCreated:*`. */
  events: string[];
  prefix: string;
  suffix: string;
  functionArn: string;
}

/** Lambda notifications of every bucket (CDK's Custom::S3BucketNotifications, or a bucket's own NotificationConfiguration). */
export function s3Notifications(resolver: Resolver): S3Notification[] {
  const configured = [
    ...ofType(resolver, 'Custom::S3BucketNotifications').map(([, r]) => ({
      bucket: r.Properties?.BucketName,
      config: r.Properties?.NotificationConfiguration,
    })),
    ...ofType(resolver, 'AWS::S3::Bucket').map(([id, r]) => ({ bucket: { Ref: id }, config: r.Properties?.NotificationConfiguration })),
  ];
  return configured.flatMap(({ bucket, config }) => {
    const lambdas = ((config as Props | undefined)?.LambdaFunctionConfigurations ?? []) as Props[];
    return lambdas.flatMap((entry) => {
      const rules = ((entry.Filter as { Key?: { FilterRules?: { Name: string; Value: string }[] } })?.Key?.FilterRules ?? []).map(
        (rule) => ({
          name: rule.Name.toLowerCase(),
          value: resolver.string(rule.Value),
        }),
      );
      const events = (entry.Events ?? (entry.Event ? [entry.Event] : [])) as string[];
      return [
        {
          bucket: resolver.string(bucket),
          events,
          prefix: rules.find((r) => r.name === 'prefix')?.value ?? '',
          suffix: rules.find((r) => r.name === 'suffix')?.value ?? '',
          functionArn: resolver.string(entry.LambdaFunctionArn ?? entry.Function),
        },
      ];
    });
  });
}

/** Does an S3 event name (`ObjectCreated:Post`) match a configured type (`s3:ObjectCreated:*`)? */
export function matchesS3EventType(configured: string, eventName: string): boolean {
  const wanted = configured.replace(/^s3:/, '');
  return wanted.endsWith(':*') ? eventName.startsWith(wanted.slice(0, -1)) : wanted === eventName;
}

export interface EventRule {
  name: string;
  arn: string;
  enabled: boolean;
  schedule?: string;
  pattern?: unknown;
  targets: { arn: string; input?: string }[];
}

export function eventRules(resolver: Resolver): EventRule[] {
  return ofType(resolver, 'AWS::Events::Rule').map(([logicalId, resource]) => {
    const props = resource.Properties ?? {};
    const targets = (props.Targets ?? []) as Props[];
    return {
      name: resolver.ref(logicalId),
      arn: resolver.getAtt(logicalId, 'Arn'),
      enabled: (props.State ?? 'ENABLED') === 'ENABLED',
      schedule: props.ScheduleExpression === undefined ? undefined : resolver.string(props.ScheduleExpression),
      pattern: props.EventPattern === undefined ? undefined : resolver.resolve(props.EventPattern),
      targets: targets.map((t) => ({ arn: resolver.string(t.Arn), input: t.Input === undefined ? undefined : resolver.string(t.Input) })),
    };
  });
}

/** The ids of the template's APIs of one protocol (`HTTP` or `WEBSOCKET`). */
export function apiIds(resolver: Resolver, protocol: 'HTTP' | 'WEBSOCKET'): string[] {
  return ofType(resolver, 'AWS::ApiGatewayV2::Api')
    .filter(([, r]) => r.Properties?.ProtocolType === protocol)
    .map(([id]) => id);
}

/** An integration or authorizer URI (`arn:…:apigateway:<region>:lambda:path/2015-03-31/functions/<ARN>/invocations`) or a bare ARN. */
const functionArnOf = (uri: string) => uri.replace(/^.*\/functions\//, '').replace(/\/invocations$/, '');

/** The routes of the given APIs, each with the function its integration invokes. */
function routesOf(resolver: Resolver, apis: string[]) {
  const integrations = new Map(ofType(resolver, 'AWS::ApiGatewayV2::Integration').map(([id, r]) => [id, r.Properties ?? {}]));
  return ofType(resolver, 'AWS::ApiGatewayV2::Route')
    .filter(([, r]) => apis.includes(referencedId(r.Properties?.ApiId) ?? ''))
    .map(([logicalId, resource]) => {
      const props = resource.Properties ?? {};
      const routeKey = resolver.string(props.RouteKey);
      const target = resolver.string(props.Target ?? '');
      const integrationId = Object.entries(resolver.resources).find(
        ([id, r]) => r.Type === 'AWS::ApiGatewayV2::Integration' && target === `integrations/${resolver.ref(id)}`,
      )?.[0];
      const integration = integrationId ? integrations.get(integrationId) : undefined;
      if (!integration) throw new Error(`Route ${logicalId} (${routeKey}) has no Lambda integration`);
      return { routeKey, props, target: functionArnOf(resolver.string(integration.IntegrationUri)) };
    });
}

/** The HTTP API's routes, each with whether it has a JWT authorizer and the function its integration invokes. */
export function httpRoutes(resolver: Resolver): Route[] {
  return routesOf(resolver, apiIds(resolver, 'HTTP')).map(({ routeKey, props, target }) => {
    const [method, path] = routeKey.split(' ') as [string, string];
    return { method, path, auth: props.AuthorizationType === 'JWT', target };
  });
}

/** A WebSocket API: its id, stage, the function of each route key ($connect…) and the Lambda authorizer of $connect. */
export interface WebSocketApiSpec {
  apiId: string;
  stage: string;
  routes: Record<string, string>;
  authorizer?: { functionArn: string; identitySource: string[] };
}

export function webSocketApis(resolver: Resolver): WebSocketApiSpec[] {
  return apiIds(resolver, 'WEBSOCKET').map((api) => {
    const routes = routesOf(resolver, [api]);
    const connect = routes.find((route) => route.routeKey === '$connect');
    const authorizerId = connect?.props.AuthorizationType === 'CUSTOM' ? referencedId(connect.props.AuthorizerId) : undefined;
    const authorizer = authorizerId ? resolver.resources[authorizerId]?.Properties : undefined;
    const stage = ofType(resolver, 'AWS::ApiGatewayV2::Stage').find(([, r]) => referencedId(r.Properties?.ApiId) === api)?.[1];
    return {
      apiId: resolver.ref(api),
      stage: resolver.string(stage?.Properties?.StageName ?? '$default'),
      routes: Object.fromEntries(routes.map((route) => [route.routeKey, route.target])),
      authorizer: authorizer
        ? {
            functionArn: functionArnOf(resolver.string(authorizer.AuthorizerUri)),
            identitySource: (authorizer.IdentitySource ?? []) as string[],
          }
        : undefined,
    };
  });
}
