import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
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
import { LOCAL_ACCOUNT, LOCAL_REGION, Resolver } from './cloud/resolver';
import {
  apiIds,
  bucketNames,
  type EventRule,
  eventRules,
  functionSpecs,
  handlerFileOf,
  httpRoutes,
  matchesS3EventType,
  s3Notifications,
  tableDefinitions,
  templateSecrets,
  webSocketApis,
} from './cloud/template-reader';
import { type DynamoDbLocal, startDynamoDbLocal } from './emulators/dynamodb';
import { type S3Local, S3RVER_CREDENTIALS, startS3Local } from './emulators/s3';
import { loadOrCreateSecretValues, type SecretsManagerLocal, startSecretsManagerLocal } from './emulators/secrets-manager';
import { compileEventPattern } from './events/pattern';
import { parseScheduleExpression } from './events/schedule';
import { createHttpAdapter } from './http/request-listener';
import {
  type AwsGateway,
  assumedRolePrincipal,
  type DecisionRecord,
  functionRolePolicies,
  type GatewayIdentity,
  PolicyEvaluator,
  startAwsGateway,
} from './iam';
import { loadOrCreateJwtSecret, verifyBearer } from './jwt-authorizer';
import { type AsyncFailure, type FunctionSpec, LambdaService, LambdaServiceError } from './lambda/lambda-service';
import { type LocalWebSocketApi, startLocalWebSocketApi } from './live/websocket-api';
import { BUNDLED_ACCOUNT, type LocalProvider, startLocalProvider } from './provider/server';
import { checkAssemblyMap, providerSetting } from './provider-config';
import { ensureBucket, ensureTableFromTemplate } from './resources';
import { createS3Gateway } from './s3-gateway';
import { LocalStepFunctions } from './stepfunctions/asl-runtime';
import { toStatusChangeDetail } from './stepfunctions/execution-model';
import { startLocalSfnServer } from './stepfunctions/server';
import { extractStateMachine } from './stepfunctions/template';

const TABLE_NAME = 'ghostless-jobs';
const REGION = LOCAL_REGION;

/** Local knobs that are deploy-time parameters of the stack: the same assembly serves every setting. */
const PARAMETER_KNOBS: Record<string, string> = {
  MaxRunning: ENV.maxRunning,
  QueueTimeoutSeconds: ENV.queueTimeoutSeconds,
  RunTimeoutSeconds: ENV.runTimeoutSeconds,
  HealGraceMs: ENV.healGraceMs,
  SignupCredits: ENV.signupCredits,
  MultipartThresholdBytes: ENV.multipartThresholdBytes,
  MultipartPartBytes: ENV.multipartPartBytes,
};

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
  /** Runs the scheduled rules' targets now (the sweeper), as the schedule does. */
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
  const timers: NodeJS.Timeout[] = [];
  const server = createServer();
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  let stopping = false;

  const teardown = async () => {
    stopping = true;
    await new Promise<void>((done) => {
      if (!server.listening) return done();
      server.close(() => done());
      server.closeIdleConnections();
      setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, 1000).unref();
    });
    for (const timer of timers) clearInterval(timer);
    stepFunctions?.close();
    await liveApi?.stop();
    await lambda?.settle();
    await lambda?.close();
    await Promise.allSettled([sfnServer?.stop(), provider?.stop(), gateway?.stop(), secretsManager?.stop()]);
    await Promise.allSettled([dynamodb?.stop(), s3?.stop()]);
    if (inMemory) rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    // Listen first: the functions need the public URL (presigned URLs, webhooks).
    let listener: RequestListener = (_req: IncomingMessage, res: ServerResponse) => {
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
      res.end(JSON.stringify({ error: 'STARTING', message: 'The local stack is starting.' }));
    };
    server.on('request', (req, res) => listener(req, res));
    // WebSocket upgrades go to the push channel (`/<stage>`), once it runs.
    server.on('upgrade', (req, socket, head) => {
      if (!liveApi?.handleUpgrade(req, socket as import('node:net').Socket, head)) socket.destroy();
    });
    await new Promise<void>((done, fail) => {
      server.once('error', fail);
      server.listen(options.port ?? 0, '127.0.0.1', () => {
        server.off('error', fail);
        done();
      });
    });
    const port = (server.address() as AddressInfo).port;
    const url = `http://127.0.0.1:${port}`;

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

    // Physical names a deployment would choose; here fixed so a DATA_DIR survives a restart.
    const { template, stackName } = assembly;
    const physicalIds: Record<string, string> = {};
    for (const [id, resource] of Object.entries(template.Resources ?? {})) {
      if (resource.Type === 'AWS::DynamoDB::Table') physicalIds[id] = tableName;
      if (resource.Type === 'AWS::S3::Bucket') physicalIds[id] = `${stackName}-${id}`.toLowerCase().slice(0, 63);
      if (resource.Type === 'AWS::Lambda::Function' || resource.Type === 'AWS::IAM::Role')
        physicalIds[id] = `${stackName}-${id}`.slice(0, 64);
    }
    const parameters: Record<string, string> = { RunningHubBaseUrl: providerUrl };
    for (const [parameter, name] of Object.entries(PARAMETER_KNOBS)) {
      const value = knob(name);
      if (value !== undefined) parameters[parameter] = value;
    }
    const resolver = new Resolver(template, {
      stackName,
      physicalIds,
      parameters: Object.fromEntries(Object.entries(parameters).filter(([name]) => name in (template.Parameters ?? {}))),
      attributes: {},
    });

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
    // IAM: each function calls AWS with its own key, as its own role; the gateway evaluates every call
    // against that role's policies from the template and answers AccessDenied as AWS would.
    const identities = new Map<string, GatewayIdentity & { accessKeyId: string }>();
    const keyOf = new Map<string, GatewayIdentity & { accessKeyId: string }>();
    for (const spec of functions) {
      const role = functionRolePolicies(template, spec.logicalId, (value) => resolver.resolve(value));
      const identity = {
        accessKeyId: `ASIA${createHash('sha256').update(spec.name).digest('hex').slice(0, 16).toUpperCase()}`,
        secretAccessKey: randomBytes(30).toString('base64url'),
        principalArn: assumedRolePrincipal(role.roleName, spec.name),
        functionName: spec.name,
        policies: role.policies,
      };
      identities.set(identity.accessKeyId, identity);
      keyOf.set(spec.name, identity);
    }
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
    const runtimeEnvironment = (spec: FunctionSpec): Record<string, string> => ({
      // What Lambda sets in every sandbox…
      AWS_REGION: REGION,
      AWS_DEFAULT_REGION: REGION,
      AWS_LAMBDA_FUNCTION_NAME: spec.name,
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memorySize),
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${spec.name}`,
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      LAMBDA_TASK_ROOT: spec.codeDir,
      _HANDLER: spec.handler,
      AWS_ACCESS_KEY_ID: keyOf.get(spec.name)?.accessKeyId ?? '',
      AWS_SECRET_ACCESS_KEY: keyOf.get(spec.name)?.secretAccessKey ?? '',
      // …and where "AWS" is on this machine (DNS, in the cloud). Presigned URLs go to the policy-checking S3 door.
      AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb ?? '',
      AWS_ENDPOINT_URL_S3: endpoints.s3 ?? '',
      AWS_ENDPOINT_URL_SFN: endpoints.sfn ?? '',
      AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoints.secretsmanager ?? '',
      [ENV.s3ForcePathStyle]: 'true',
      [ENV.s3PublicEndpoint]: `${url}/s3`,
      // Tests run their own plain-HTTP push endpoint (PUSH_EXTRA_ORIGINS=http://127.0.0.1); nothing else is allowed.
      ...(knob(ENV.pushExtraOrigins) ? { [ENV.pushExtraOrigins]: knob(ENV.pushExtraOrigins) as string } : {}),
      // The sandbox runs on this machine's Node (20); Lambda's is 22.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    });
    const destinations = new Map<string, AsyncFailure[]>();
    const destinationEvaluator = new PolicyEvaluator({ account: LOCAL_ACCOUNT });
    lambda = new LambdaService({
      onAsyncFailure: async (failure) => {
        const identity = keyOf.get(failure.functionName);
        if (!failure.destination || !identity) return;
        const action = failure.destination.startsWith('arn:aws:sqs:') ? 'sqs:SendMessage' : 'lambda:InvokeFunction';
        if ((await destinationEvaluator.evaluate(identity, { action, resource: failure.destination })) !== 'Allowed') {
          console.error(`[${failure.functionName}] AccessDenied: ${action} on ${failure.destination}; the failed event is dropped`);
          return;
        }
        destinations.set(failure.destination, [...(destinations.get(failure.destination) ?? []), failure]);
      },
      functions,
      runtimeEnvironment,
      logDir: join(dataDir, 'logs'),
      defaultConcurrency: knob('LAMBDA_CONCURRENCY') ? Number(knob('LAMBDA_CONCURRENCY')) : undefined,
      asyncRetryDelaysMs: (knob('LAMBDA_ASYNC_RETRY_DELAYS_MS') ?? '200,1000').split(',').map(Number),
    });
    const service = lambda;

    // S3 → Lambda notifications, with the template's event types and key filters.
    s3.onObjectCreated((event) => {
      const record = event.Records[0];
      if (!record) return;
      const key = decodeURIComponent(record.s3.object.key.replace(/\+/g, ' '));
      for (const n of notifications) {
        if (n.bucket !== record.s3.bucket.name || !n.events.some((type) => matchesS3EventType(type, record.eventName))) continue;
        if (!key.startsWith(n.prefix) || !key.endsWith(n.suffix)) continue;
        service.invokeAsync(n.functionArn, event);
      }
    });

    // EventBridge: pattern rules receive the Step Functions status changes; schedules fire on a timer.
    const rules = eventRules(resolver).filter((rule) => rule.enabled);
    const patternRules = rules.flatMap((rule) => (rule.pattern ? [{ rule, matches: compileEventPattern(rule.pattern) }] : []));
    const deliver = (rule: EventRule, event: unknown) => {
      for (const target of rule.targets) service.invokeAsync(target.arn, target.input === undefined ? event : JSON.parse(target.input));
    };
    /** An EventBridge event envelope, as the service delivers it to a target. */
    const busEvent = (detailType: string, source: string, resource: string, detail: unknown) => ({
      version: '0',
      id: randomUUID(),
      'detail-type': detailType,
      source,
      account: LOCAL_ACCOUNT,
      time: new Date().toISOString(),
      region: REGION,
      resources: [resource],
      detail,
    });
    stepFunctions.onStatusChange((execution) => {
      const event = busEvent(
        'Step Functions Execution Status Change',
        'aws.states',
        execution.executionArn,
        toStatusChangeDetail(execution),
      );
      for (const { rule, matches } of patternRules) if (matches(event)) deliver(rule, event);
    });
    const scheduled = rules.filter((rule) => rule.schedule);
    const scheduledEvent = (rule: EventRule) => busEvent('Scheduled Event', 'aws.events', rule.arn, {});
    // One run at a time per rule, as the sweeper expects; SWEEP_INTERVAL_MS rescales the schedule's rate locally.
    const running = new Map<string, Promise<unknown>>();
    const fire = (rule: EventRule) => {
      let run = running.get(rule.name);
      if (!run) {
        run = Promise.all(rule.targets.map((target) => service.invoke(target.arn, scheduledEvent(rule)))).finally(() =>
          running.delete(rule.name),
        );
        running.set(rule.name, run);
      }
      return run;
    };
    for (const rule of scheduled) {
      const every = knob('SWEEP_INTERVAL_MS') ? Number(knob('SWEEP_INTERVAL_MS')) : parseScheduleExpression(rule.schedule as string);
      const timer = setInterval(() => {
        if (!stopping) fire(rule).catch((error) => console.error(`[${rule.name}]`, (error as Error).message));
      }, every);
      timer.unref();
      timers.push(timer);
    }

    // Operator tooling (local credits endpoint) writes the table directly, as `npm run credits` does in AWS.
    const admin = new DynamoStore(DynamoDBDocumentClient.from(dynamoClient), tableName, 30);
    const routes = httpRoutes(resolver);
    const browserEvaluator = new PolicyEvaluator({ account: LOCAL_ACCOUNT });
    listener = createHttpAdapter({
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
    });

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
      sweep: () => Promise.all(scheduled.map(fire)),
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
