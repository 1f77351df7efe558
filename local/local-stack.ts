import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { APIGatewayProxyEventV2WithJWTAuthorizer } from 'aws-lambda';
import { DynamoStore } from '../lambdas/adapters/dynamo-store';
import { ENV } from '../lambdas/env-names';
import { LocalAccounts } from './accounts';
import { type CloudAssembly, loadCloudAssembly, synthesizeCloudAssembly } from './cloud/assembly';
import { LOCAL_ACCOUNT, LOCAL_REGION } from './cloud/resolver';
import {
  apiIds,
  bucketNames,
  functionSpecs,
  handlerFileOf,
  httpRoutes,
  s3Notifications,
  tableDefinitions,
  templateSecrets,
  webSocketApis,
} from './cloud/template-reader';
import { type DynamoDbLocal, startDynamoDbLocal } from './emulators/dynamodb';
import { type S3Local, S3RVER_CREDENTIALS, startS3Local } from './emulators/s3';
import { loadOrCreateSecretValues, type SecretsManagerLocal, startSecretsManagerLocal } from './emulators/secrets-manager';
import { failureDestinations, functionIdentities, sandboxEnvironment } from './function-identities';
import { createHttpAdapter } from './http/request-listener';
import { type AwsGateway, type DecisionRecord, PolicyEvaluator, startAwsGateway } from './iam';
import { loadOrCreateJwtSecret, verifyBearer } from './jwt-authorizer';
import { type AsyncFailure, type FunctionSpec, LambdaService, LambdaServiceError } from './lambda/lambda-service';
import { type LocalWebSocketApi, startLocalWebSocketApi } from './live/websocket-api';
import { BUNDLED_ACCOUNT, type LocalProvider, startLocalProvider } from './provider/server';
import { checkAssemblyMap, providerSetting } from './provider-config';
import { type PublicServer, startPublicServer } from './public-server';
import { ensureBucket, ensureTableFromTemplate } from './resources';
import { createS3Gateway } from './s3-gateway';
import { startEventRules, wireS3Notifications } from './stack-events';
import { localResolver } from './stack-resolver';
import { LocalStepFunctions } from './stepfunctions/asl-runtime';
import { startLocalSfnServer } from './stepfunctions/server';
import { extractStateMachine } from './stepfunctions/template';

const TABLE_NAME = 'ghostless-jobs';
const REGION = LOCAL_REGION;

/** What the local stack synthesizes with: the bundled provider's account and the operator map of its workflows. */
export const LOCAL_SYNTH_CONTEXT = { runningHubWorkflows: BUNDLED_ACCOUNT.workflows };

export interface LocalStackOptions {
  /** HTTP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Where DynamoDB, S3, logs and the JWT key persist; defaults to `.local/`. Ignored when inMemory. */
  dataDir?: string;
  /** Keep nothing: DynamoDB in memory, S3 and the JWT key in a temp dir removed by stop(). */
  inMemory?: boolean;
  /** Knobs (MAX_RUNNING, PROVIDER_LATENCY_MS, SWEEP_INTERVAL_MS…) over process.env. */
  env?: Record<string, string>;
  /** Reuse a running DynamoDB Local with a table of our own (tests start one per run); s3rver is always ours, for its events. */
  emulators?: { dynamodbEndpoint: string; tableName: string };
  /** An already-synthesized cloud assembly to run as it is (default: env CLOUD_ASSEMBLY, else synthesize the app). */
  cloudAssembly?: string;
}

export interface LocalStack {
  /** e.g. http://127.0.0.1:3000 — SPA at /, API at /api, S3 gateway at /s3. */
  url: string;
  port: number;
  dataDir: string;
  dynamodbEndpoint: string;
  s3Endpoint: string;
  /** The local Step Functions API endpoint. */
  sfnEndpoint: string;
  /** The HS256 key local tokens are signed with (also at `<dataDir>/jwt-secret`). */
  jwtSecret: Uint8Array;
  tableName: string;
  bucketName: string;
  /** The assembly that runs, and its template. */
  assembly: CloudAssembly;
  /** The functions of the assembly, each in its own sandboxes. */
  lambda: LambdaService;
  /** A function's name by the handler file it was built from (`s3-event`, `sweeper`…). */
  functionName(handlerFile: string): string;
  /** The local Step Functions runtime running the synthesized state machine. */
  stepFunctions: LocalStepFunctions;
  /** The bundled RunningHub-compatible provider (fault hooks for tests); throws when the stack uses an external endpoint. */
  provider: LocalProvider;
  /** Where the functions' provider calls go, and whether it is the bundled provider the stack started. */
  providerEndpoint: { url: string; bundled: boolean };
  /** Every AWS call a function made, with IAM's decision (what `npm test` reports per function). */
  iamUsage(): DecisionRecord[];
  /**
   * What reached each on-failure destination (by its ARN): an async event that failed every attempt, delivered
   * only if the function's role may `sqs:SendMessage` to it, as Lambda does.
   */
  destinations: Map<string, AsyncFailure[]>;
  /** Runs the scheduled rules' targets now (the sweeper), as the schedule does, after any run already in flight. */
  sweep(): Promise<unknown>;
  stop(): Promise<void>;
}

/** Starts the whole system on 127.0.0.1 from the cloud assembly: its tables, buckets, functions, state machine and wiring. */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const knob = (name: string): string | undefined => options.env?.[name] ?? process.env[name];
  const number = (name: string, fallback: number) => Number(knob(name) ?? fallback);
  const optionalNumber = (name: string) => (knob(name) === undefined ? undefined : Number(knob(name)));

  // Refused before anything starts: one or two of the three external-endpoint variables, or a malformed map.
  const providerConfig = providerSetting(knob);
  const external = providerConfig.kind === 'external' ? providerConfig : null;

  const inMemory = options.inMemory ?? false;
  const dataDir = inMemory ? mkdtempSync(join(tmpdir(), 'ghostless-local-')) : resolve(options.dataDir ?? '.local');
  mkdirSync(dataDir, { recursive: true });

  let dynamodb: DynamoDbLocal | undefined;
  let s3: S3Local | undefined;
  let provider: LocalProvider | undefined;
  let stepFunctions: LocalStepFunctions | undefined;
  let lambda: LambdaService | undefined;
  let sfnServer: { endpoint: string; stop(): Promise<void> } | undefined;
  let secretsManager: SecretsManagerLocal | undefined;
  let gateway: AwsGateway | undefined;
  let liveApi: LocalWebSocketApi | undefined;
  let eventBus: ReturnType<typeof startEventRules> | undefined;
  let publicServer: PublicServer | undefined;

  const teardown = async () => {
    eventBus?.stop();
    await publicServer?.close();
    stepFunctions?.close();
    await liveApi?.stop();
    await lambda?.settle();
    await lambda?.close();
    await Promise.allSettled([sfnServer?.stop(), provider?.stop(), gateway?.stop(), secretsManager?.stop()]);
    await Promise.allSettled([dynamodb?.stop(), s3?.stop()]);
    if (inMemory) rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    // Listen first; WebSocket upgrades go to the push channel (`/<stage>`), once it runs.
    publicServer = await startPublicServer(options.port ?? 0, (req, socket, head) => liveApi?.handleUpgrade(req, socket, head) ?? false);
    const { port, url } = publicServer;

    const assemblyDir = options.cloudAssembly ?? process.env.CLOUD_ASSEMBLY;
    const reuse = options.emulators;
    let assembly: CloudAssembly;
    [assembly, dynamodb, s3, provider] = await Promise.all([
      assemblyDir
        ? loadCloudAssembly(assemblyDir)
        : synthesizeCloudAssembly(external ? { runningHubWorkflows: external.workflows } : LOCAL_SYNTH_CONTEXT),
      reuse ? undefined : startDynamoDbLocal({ dataDir: inMemory ? undefined : join(dataDir, 'dynamodb') }),
      startS3Local({ dataDir: join(dataDir, 's3'), region: REGION }),
      // An external endpoint replaces the bundled provider: it is not started at all.
      external
        ? undefined
        : startLocalProvider({
            latencyMs: number('PROVIDER_LATENCY_MS', 1500),
            failRate: number('PROVIDER_FAIL_RATE', 0),
            createFailRate: optionalNumber('PROVIDER_CREATE_FAIL_RATE'),
            foreignTasks: optionalNumber('PROVIDER_FOREIGN_TASKS'),
            webhookRetryScale: optionalNumber('PROVIDER_WEBHOOK_RETRY_SCALE'),
            dataDir: inMemory ? undefined : join(dataDir, 'provider'),
          }),
    ]);
    const providerUrl = external?.baseUrl ?? (provider as LocalProvider).url;
    const dynamodbEndpoint = reuse?.dynamodbEndpoint ?? (dynamodb as DynamoDbLocal).endpoint;
    const tableName = reuse?.tableName ?? TABLE_NAME;

    const resolver = localResolver(assembly, { tableName, providerUrl, knob });
    const { template } = assembly;

    // "Deploy": the template's tables and buckets.
    const dynamoClient = new DynamoDBClient({ endpoint: dynamodbEndpoint, region: REGION, credentials: S3RVER_CREDENTIALS });
    const s3Client = new S3Client({ endpoint: s3.endpoint, region: REGION, credentials: S3RVER_CREDENTIALS, forcePathStyle: true });
    const [jwtSecret] = await Promise.all([
      loadOrCreateJwtSecret(dataDir),
      ...tableDefinitions(resolver).map((table) => ensureTableFromTemplate(dynamoClient, table.input, table.ttlAttribute)),
      ...bucketNames(resolver).map((bucket) => ensureBucket(s3Client, bucket)),
    ]).finally(() => s3Client.destroy());
    const notifications = s3Notifications(resolver);
    const bucketName = notifications[0]?.bucket ?? bucketNames(resolver)[0] ?? '';

    // The state machine, with its Lambda tasks invoking the assembly's functions.
    const machine = extractStateMachine(template, undefined, resolver);
    // Step Functions reports the Lambda API's own refusals (a throttle, say) as `Lambda.<exception>`.
    const invokeFunction = (arn: string, payload: unknown) =>
      (lambda as LambdaService).invoke(arn, payload).catch((error: unknown) => {
        if (error instanceof LambdaServiceError) error.name = `Lambda.${error.name}`;
        throw error;
      });
    stepFunctions = new LocalStepFunctions({
      definition: machine.definition,
      stateMachineArn: machine.stateMachineArn,
      handlers: Object.fromEntries(Object.keys(machine.handlers).map((arn) => [arn, arn])),
      invoke: invokeFunction,
      retryScale: knob('SFN_RETRY_SCALE') ? Number(knob('SFN_RETRY_SCALE')) : undefined,
    });
    sfnServer = await startLocalSfnServer(stepFunctions);

    // Local "DNS": the HTTP API's public endpoint (in the webhook URL a function is given) is this server.
    const apiOrigins = apiIds(resolver, 'HTTP').map((id) => `https://${resolver.ref(id)}.execute-api.${REGION}.amazonaws.com`);
    const localize = (value: string) => apiOrigins.reduce((text, origin) => text.replaceAll(origin, url), value);
    const functions = functionSpecs(assembly.assets, resolver).map((spec) => ({
      ...spec,
      environment: Object.fromEntries(Object.entries(spec.environment).map(([name, value]) => [name, localize(value)])),
    }));
    checkAssemblyMap(
      providerConfig,
      functions.map((spec) => spec.environment.RUNNINGHUB_WORKFLOWS),
    );
    const { byKey: identities, byFunction: keyOf } = functionIdentities(template, functions, resolver);
    // The template's secrets; the provider's key (the one functions name in RUNNINGHUB_API_KEY_SECRET) comes from
    // the local configuration, as an operator's put-secret-value would set it. The others get a random value, as
    // Secrets Manager's generated one, kept in the data dir (the VAPID keys browsers subscribed with survive a restart).
    const providerKeySecrets = new Set(functions.map((spec) => spec.environment.RUNNINGHUB_API_KEY_SECRET));
    const generated = loadOrCreateSecretValues(
      join(dataDir, 'secrets.json'),
      templateSecrets(resolver).map((secret) => secret.name),
    );
    secretsManager = await startSecretsManagerLocal(
      templateSecrets(resolver).map((secret) => ({
        ...secret,
        value: providerKeySecrets.has(secret.arn) ? (external?.apiKey ?? BUNDLED_ACCOUNT.apiKey) : (generated[secret.name] as string),
      })),
    );
    // The push channel (a WebSocket API): browsers connect on this server, functions post through the IAM gateway.
    const [liveSpec] = webSocketApis(resolver);
    const accounts = new LocalAccounts(join(dataDir, 'local-accounts.json'));
    if (liveSpec) {
      liveApi = await startLocalWebSocketApi({
        spec: liveSpec,
        region: REGION,
        invoke: (arn, event) => (lambda as LambdaService).invoke(arn, event),
        authorize: async (token) =>
          String((await verifyBearer(`Bearer ${token ?? ''}`, jwtSecret, (sub) => accounts.generation(sub))).claims.sub),
      });
    }
    // Tests put a misbehaving DynamoDB proxy between the functions and the emulator through env.AWS_ENDPOINT_URL_DYNAMODB.
    const functionsDynamoDb = options.env?.AWS_ENDPOINT_URL_DYNAMODB ?? dynamodbEndpoint;
    gateway = await startAwsGateway({
      upstreams: {
        dynamodb: functionsDynamoDb,
        s3: s3.endpoint,
        sfn: sfnServer.endpoint,
        secretsmanager: secretsManager.endpoint,
        'execute-api': liveApi?.managementEndpoint,
      },
      upstreamCredentials: { s3: S3RVER_CREDENTIALS },
      identities: (accessKeyId) => identities.get(accessKeyId),
      taskTokenOwner: () => machine.stateMachineArn,
    });
    const endpoints = gateway.endpoints;
    // Local "DNS" for the push API's management endpoint: the IAM gateway, the API id leading the path.
    if (liveSpec && endpoints['execute-api']) {
      const origin = `https://${liveSpec.apiId}.execute-api.${REGION}.amazonaws.com`;
      for (const spec of functions) {
        for (const [name, value] of Object.entries(spec.environment))
          spec.environment[name] = value.replaceAll(origin, `${endpoints['execute-api']}/${liveSpec.apiId}`);
      }
    }
    const runtimeEnvironment = (spec: FunctionSpec) =>
      sandboxEnvironment(spec, { identity: keyOf.get(spec.name), endpoints, publicUrl: url, pushExtraOrigins: knob(ENV.pushExtraOrigins) });
    const { destinations, onAsyncFailure } = failureDestinations(keyOf);
    lambda = new LambdaService({
      onAsyncFailure,
      functions,
      runtimeEnvironment,
      logDir: join(dataDir, 'logs'),
      defaultConcurrency: knob('LAMBDA_CONCURRENCY') ? Number(knob('LAMBDA_CONCURRENCY')) : undefined,
      asyncRetryDelaysMs: (knob('LAMBDA_ASYNC_RETRY_DELAYS_MS') ?? '200,1000').split(',').map(Number),
    });
    const service = lambda;

    wireS3Notifications(s3, notifications, service);
    eventBus = startEventRules({
      resolver,
      stepFunctions,
      lambda: service,
      scheduleIntervalMs: knob('SWEEP_INTERVAL_MS') ? Number(knob('SWEEP_INTERVAL_MS')) : undefined,
    });

    // Operator tooling (local credits endpoint) writes the table directly, as `npm run credits` does in AWS.
    const admin = new DynamoStore(DynamoDBDocumentClient.from(dynamoClient), tableName, 30);
    const routes = httpRoutes(resolver);
    const browserEvaluator = new PolicyEvaluator({ account: LOCAL_ACCOUNT });
    publicServer.setListener(
      createHttpAdapter({
        routes,
        apiHandler: (event: APIGatewayProxyEventV2WithJWTAuthorizer, _context, route) => service.invoke(route.target as string, event),
        s3Gateway: createS3Gateway({
          s3Endpoint: s3.endpoint,
          credentials: S3RVER_CREDENTIALS,
          keys: (accessKeyId) => identities.get(accessKeyId),
          // The browser's presigned POST/GET carry the signing function's authority, checked at request time.
          authorize: async (accessKeyId, action, resource) => {
            const signer = identities.get(accessKeyId);
            return !!signer && (await browserEvaluator.evaluate(signer, { action, resource })) === 'Allowed';
          },
          region: REGION,
          tmpDir: tmpdir(),
        }),
        jwtSecret,
        // Local accounts and sign-out-everywhere generations survive a restart of a persistent stack.
        accounts,
        setBalance: (userId, balance) => admin.setBalance(userId, balance),
      }),
    );

    const byHandler = new Map(
      functions.flatMap((spec) => {
        const file = handlerFileOf(resolver, spec.logicalId);
        return file ? [[file, spec.name] as const] : [];
      }),
    );
    // The app's functions start their first sandbox before the stack says it is ready (as provisioned concurrency would).
    await lambda.warm([...byHandler.values()]);
    let stopped: Promise<void> | undefined;
    return {
      url,
      port,
      dataDir,
      dynamodbEndpoint,
      s3Endpoint: s3.endpoint,
      sfnEndpoint: sfnServer.endpoint,
      jwtSecret,
      tableName,
      bucketName,
      assembly,
      lambda,
      functionName(handlerFile) {
        const name = byHandler.get(handlerFile);
        if (!name) throw new Error(`No function built from ${handlerFile}`);
        return name;
      },
      stepFunctions,
      get provider(): LocalProvider {
        if (!provider) throw new Error(`The local stack uses the external provider at ${providerUrl}: no bundled provider runs`);
        return provider;
      },
      providerEndpoint: { url: providerUrl, bundled: !external },
      iamUsage: () => (gateway as AwsGateway).usage(),
      destinations,
      sweep: () => (eventBus as ReturnType<typeof startEventRules>).sweep(),
      stop: () => {
        stopped ??= teardown().finally(() => dynamoClient.destroy());
        return stopped;
      },
    };
  } catch (error) {
    await teardown();
    throw error;
  }
}
