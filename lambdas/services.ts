import { randomUUID } from 'node:crypto';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoConnectionStore } from './adapters/dynamo/connection-store';
import { DynamoPushStore } from './adapters/dynamo/push-store';
import { Table } from './adapters/dynamo/table';
import { DynamoStore } from './adapters/dynamo-store';
import { ApiGatewayLiveChannel } from './adapters/live-channel';
import { keyedProvider, secretString } from './adapters/provider-key';
import { providerFileHosts } from './adapters/provider-output';
import { RunningHubProvider } from './adapters/runninghub';
import { parseWorkflowMap } from './adapters/runninghub-workflows';
import { S3Files } from './adapters/s3-files';
import { S3Multipart } from './adapters/s3-multipart';
import { SfnWorkflow } from './adapters/sfn-workflow';
import { WebPushSender } from './adapters/web-push-sender';
import type { Config } from './config';
import { admission } from './domain/admission';
import { credits } from './domain/credits';
import { healing } from './domain/healing';
import { lifecycle } from './domain/lifecycle';
import { liveUpdates } from './domain/live-updates';
import type { Workflow } from './domain/ports';
import { pushNotifications } from './domain/push-notifications';
import { queries } from './domain/queries';
import { jobQueue } from './domain/queue';
import { resumableUploads } from './domain/resumable-upload';
import { inputStaging } from './domain/staging';
import { jobViews } from './domain/views';
import { logger, metrics } from './logger';
import { jobOutcomeMetric, METRICS } from './metric-names';

/** Wires the domain to its adapters. Handlers use the singleton in `runtime.ts`; tests build their own. */
export function buildServices(config: Config, overrides: { workflow?: Workflow } = {}) {
  // Throttling and 5xx are transient: retry them (with the SDK's jittered backoff) well within a function's timeout
  // rather than fail a job on the third unlucky answer.
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient({ maxAttempts: 8 }), {
    marshallOptions: { removeUndefinedValues: true },
  });
  const s3Options = { forcePathStyle: config.s3ForcePathStyle, requestChecksumCalculation: 'WHEN_REQUIRED' } as const;
  const s3 = new S3Client(s3Options);
  const presigner = config.s3PublicEndpoint ? new S3Client({ ...s3Options, endpoint: config.s3PublicEndpoint }) : s3;
  const log = (message: string, fields: Record<string, unknown>) => logger.info(message, fields);
  const clock = { now: () => new Date() };

  const store = new DynamoStore(doc, config.tableName, config.jobRetentionDays);
  const files = new S3Files(s3, presigner, config.bucketName, providerFileHosts(config.runningHub.baseUrl, config.runningHub.fileHosts));
  const workflow =
    overrides.workflow ??
    new SfnWorkflow(
      new SFNClient({}),
      config.stateMachineArn,
      (jobId) => ({ jobId, queueTimeoutSeconds: config.queueTimeoutSeconds, runTimeoutSeconds: config.runTimeoutSeconds }),
      log,
    );
  const secrets = new SecretsManagerClient({});
  const push = pushNotifications({
    store: new DynamoPushStore(new Table(doc, config.tableName, config.jobRetentionDays)),
    sender: new WebPushSender(secretString(secrets, config.push.vapidKeySecret), config.push.contact),
    clock,
    extraOrigins: config.push.extraOrigins,
    log,
  });
  const providerOptions = { baseUrl: config.runningHub.baseUrl, workflows: parseWorkflowMap(config.runningHub.workflows) };
  const provider = keyedProvider(
    (apiKey) => new RunningHubProvider({ ...providerOptions, apiKey }),
    secretString(secrets, config.runningHub.apiKeySecret),
  );
  const views = jobViews(store, files);
  const creditService = credits(store, config.signupCredits);
  const recordHandoff = (ms: number) => metrics.addMetric(METRICS.handoffMs, MetricUnit.Milliseconds, ms);
  // Functions given the WebSocket API's endpoint push job changes; the others publish nothing.
  const live = config.liveEndpoint
    ? liveUpdates({
        channel: new ApiGatewayLiveChannel(
          new ApiGatewayManagementApiClient({ endpoint: config.liveEndpoint }),
          new DynamoConnectionStore(new Table(doc, config.tableName, config.jobRetentionDays)),
        ),
        views,
        log,
      })
    : undefined;
  const queue = jobQueue({ store, workflow, clock, capacity: config.maxRunning, log, recordHandoff, live, stageAhead: true });
  const countOutcome = (status: Parameters<typeof jobOutcomeMetric>[0], tool: string) => {
    const metric = metrics.singleMetric();
    metric.addDimension('tool', tool);
    metric.addMetric(jobOutcomeMetric(status), MetricUnit.Count, 1);
  };
  const jobLifecycle = lifecycle({
    store,
    files,
    provider,
    workflow,
    queue,
    clock,
    callbackBaseUrl: config.publicApiUrl,
    log,
    countOutcome,
    onEnded: push.jobEnded,
    live,
  });
  const uploads = resumableUploads({
    store,
    multipart: new S3Multipart(s3, presigner, config.bucketName),
    policy: config.multipart,
    presignSeconds: config.uploadTtlSeconds,
    log,
  });
  const jobAdmission = admission({
    store,
    ledger: store,
    credits: creditService,
    files,
    views,
    clock,
    workflow,
    sizeLimits: config.limits,
    jobLimits: { queueSeconds: config.queueTimeoutSeconds, runSeconds: config.runTimeoutSeconds },
    uploadTtlSeconds: config.uploadTtlSeconds,
    resumable: uploads,
    newId: randomUUID,
    log,
    live,
  });
  return {
    store,
    credits: store,
    creditService,
    queue,
    admission: jobAdmission,
    uploads,
    lifecycle: jobLifecycle,
    staging: inputStaging({ store, files, provider, clock, log }),
    healing: healing({
      store,
      workflow,
      provider,
      lifecycle: jobLifecycle,
      queue,
      admission: jobAdmission,
      files,
      clock,
      graceMs: config.healGraceMs,
      log,
    }),
    queries: queries(store, store, views, creditService),
    views,
    push,
  };
}

export type Services = ReturnType<typeof buildServices>;
