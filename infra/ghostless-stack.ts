import path from 'node:path';
import { CfnOutput, CfnParameter, Stack, type StackProps } from 'aws-cdk-lib';
import type { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { parseWorkflowMap } from '../lambdas/adapters/runninghub-workflows';
import { ENV } from '../lambdas/env-names';
import { AccessLogs } from './constructs/access-logs';
import { Admission } from './constructs/admission';
import { Alerts } from './constructs/alerts';
import { Api } from './constructs/api';
import { REPO_ROOT } from './constructs/ghostless-function';
import { Healing } from './constructs/healing';
import { JobMachine, stateMachineArnOf } from './constructs/job-machine';
import { LiveUpdates } from './constructs/live-updates';
import { SpaOriginCors } from './constructs/spa-cors';
import { Storage } from './constructs/storage';
import { Auth } from './constructs/user-pool';
import { Web, type WebDomain } from './constructs/web';
import { acknowledge } from './nag';
import type { HandoffFunction, ReservedConcurrency } from './reserved-concurrency';

const DEFAULT_FILE_HOSTS = 'rh-images.xiaoyaoyou.com,*.runninghub.ai,*.runninghub.cn';

export interface GhostlessStackProps extends StackProps {
  /** Days inputs and outputs stay in S3 (default 7). */
  objectRetentionDays?: number;
  /** Days a terminal job stays in the table (default 30). */
  jobRetentionDays?: number;
  /** Jobs running on the provider at once (default 3: RunningHub's per-account limit). */
  maxRunning?: number;
  /** Seconds a job may wait in the queue (default 3600) and run on the provider (default 900). */
  queueTimeoutSeconds?: number;
  runTimeoutSeconds?: number;
  /** Milliseconds a job may look driverless before the sweeper finalizes it (default 120000). */
  healGraceMs?: number;
  /** Credits every new user gets once, on first use (default 3). */
  signupCredits?: number;
  /** The built SPA; defaults to web/dist. */
  webDist?: string;
  /**
   * RunningHub account and the operator's workflow map (RUNNINGHUB_WORKFLOWS, docs/PRODUCT.md "Provider configuration"),
   * validated at synth: a missing or malformed map stops synthesis with a sentence naming the tool and field.
   */
  runningHub: { baseUrl?: string; workflows: string };
  /** A custom domain for the SPA (enforces TLS 1.2+); without it CloudFront's default name and certificate. */
  webDomain?: WebDomain;
  /** Cognito feature plan (default `plus`, which brings threat protection). */
  cognitoFeaturePlan?: 'plus' | 'essentials';
  /** Who every alarm notifies (an SNS e-mail subscription; the address confirms it once). */
  alarmEmail?: string;
  /** Reserved concurrency of the hand-off functions (default none: see infra/reserved-concurrency.ts). */
  reservedConcurrency?: ReservedConcurrency;
}

export class GhostlessStack extends Stack {
  readonly accessLogs: AccessLogs;
  readonly storage: Storage;
  readonly auth: Auth;
  readonly admission: Admission;
  readonly api: Api;
  readonly jobs: JobMachine;
  readonly healing: Healing;
  readonly alerts: Alerts;
  readonly live: LiveUpdates;
  readonly providerApiKey: Secret;
  readonly vapidKey: Secret;
  readonly web: Web;

  constructor(scope: Construct, id: string, props: GhostlessStackProps) {
    super(scope, id, props);
    // The same validation the functions run at cold start, now, with a sentence naming the tool.
    parseWorkflowMap(props.runningHub.workflows, 'Context runningHubWorkflows');
    this.accessLogs = new AccessLogs(this, 'AccessLogs');
    this.storage = new Storage(this, 'Storage', { objectRetentionDays: props.objectRetentionDays, accessLogs: this.accessLogs.bucket });
    this.auth = new Auth(this, 'Auth', { featurePlan: props.cognitoFeaturePlan });
    const stateMachine = stateMachineArnOf(this);
    // Tunables are deploy-time parameters (defaults from props): one synthesized assembly serves every
    // setting, in AWS (`cdk deploy --parameters MaxRunning=5`) and in the local stack alike.
    const tunable = (id: string, description: string, value: number) =>
      new CfnParameter(this, id, { type: 'Number', minValue: 1, default: value, description }).valueAsString;
    // The provider's API key: stored after deploy with put-secret-value (README "Deploy"); CDK never sees it, and
    // the generated value only holds the place.
    this.providerApiKey = new Secret(this, 'ProviderApiKey', {
      description: 'RunningHub API key used by Ghostless; set it with aws secretsmanager put-secret-value',
    });
    acknowledge(
      this.providerApiKey,
      'SMG4',
      'RunningHub issues the key; it is rotated by storing the new one (put-secret-value), which Secrets Manager cannot do itself.',
    );
    // Web Push: the VAPID key pair is derived from this secret's random string, which Secrets Manager generates at
    // deploy (lambdas/adapters/web-push-sender.ts); it never appears in the template, an environment or a log.
    this.vapidKey = new Secret(this, 'VapidKey', {
      description: 'Seed of the VAPID key pair Ghostless signs Web Push requests with; a new value rotates the keys',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    acknowledge(
      this.vapidKey,
      'SMG4',
      'Rotating the VAPID keys invalidates every browser subscription; it is done on purpose (put-secret-value), not on a schedule.',
    );
    const environment = {
      [ENV.bucketName]: this.storage.bucket.bucketName,
      [ENV.jobRetentionDays]: String(props.jobRetentionDays ?? 30),
      [ENV.maxRunning]: tunable('MaxRunning', 'Jobs running on the provider at once', props.maxRunning ?? 3),
      [ENV.queueTimeoutSeconds]: tunable('QueueTimeoutSeconds', 'Seconds a job may wait in the queue', props.queueTimeoutSeconds ?? 3600),
      [ENV.runTimeoutSeconds]: tunable('RunTimeoutSeconds', 'Seconds a job may run on the provider', props.runTimeoutSeconds ?? 900),
      [ENV.healGraceMs]: tunable(
        'HealGraceMs',
        'Milliseconds a job may look driverless before the sweeper heals it',
        props.healGraceMs ?? 120_000,
      ),
      [ENV.stateMachineArn]: stateMachine.arn,
      [ENV.runningHubBaseUrl]: new CfnParameter(this, 'RunningHubBaseUrl', {
        type: 'String',
        default: props.runningHub.baseUrl ?? 'https://www.runninghub.ai',
        allowedPattern: '^https?://[^\\s]+$',
        description: 'Base URL of the RunningHub-compatible provider API',
      }).valueAsString,
      // The key itself lives in Secrets Manager; only the functions that call the provider may read it.
      [ENV.runningHubApiKeySecret]: this.providerApiKey.secretArn,
      [ENV.runningHubWorkflows]: props.runningHub.workflows,
      [ENV.vapidKeySecret]: this.vapidKey.secretArn,
      // Where output files may be fetched from besides the API host (RunningHub's documented outputs live on
      // rh-images.xiaoyaoyou.com); `-c runningHubFileHosts=cdn.example.com,*.example.net` replaces the list.
      [ENV.runningHubFileHosts]: String(this.node.tryGetContext('runningHubFileHosts') ?? DEFAULT_FILE_HOSTS),
    };
    this.admission = new Admission(this, 'Admission', { storage: this.storage, environment, stateMachine });
    // Only the api function grants the sign-up credits (on a user's first request).
    this.admission.apiFunction.addEnvironment(
      ENV.signupCredits,
      new CfnParameter(this, 'SignupCredits', {
        type: 'Number',
        minValue: 0,
        default: props.signupCredits ?? 3,
        description: 'Credits every new user gets once, on first use',
      }).valueAsString,
    );
    // Files above the threshold upload in resumable parts; the part size is at least S3's 5 MiB.
    this.admission.apiFunction.addEnvironment(
      ENV.multipartThresholdBytes,
      tunable('MultipartThresholdBytes', 'Files larger than this many bytes upload in resumable parts', 16 * 1024 * 1024),
    );
    this.admission.apiFunction.addEnvironment(
      ENV.multipartPartBytes,
      new CfnParameter(this, 'MultipartPartBytes', {
        type: 'Number',
        minValue: 5 * 1024 * 1024,
        default: 8 * 1024 * 1024,
        description: 'Bytes per part of a resumable upload (all parts but the last)',
      }).valueAsString,
    );
    this.api = new Api(this, 'Api', {
      handler: this.admission.apiFunction,
      userPool: this.auth.userPool,
      userPoolClient: this.auth.userPoolClient,
    });
    this.jobs = new JobMachine(this, 'Jobs', { storage: this.storage, environment, publicApiUrl: this.api.url });
    this.healing = new Healing(this, 'Healing', {
      storage: this.storage,
      environment,
      stateMachine: this.jobs.stateMachine,
      stateMachineArns: stateMachine,
    });

    // Every function that changes a job pushes the change to the browser.
    this.live = new LiveUpdates(this, 'Live', {
      table: this.storage.table,
      userPool: this.auth.userPool,
      userPoolClient: this.auth.userPoolClient,
    });
    for (const fn of [
      this.admission.apiFunction,
      this.admission.s3EventFunction,
      ...this.jobs.functions,
      this.healing.sweeper,
      this.healing.cleanup,
    ])
      this.live.allowPublish(fn);

    // Presigned POSTs and GETs name the bucket by its regional or its global virtual-host name.
    const mediaHosts = [this.storage.bucket.bucketRegionalDomainName, this.storage.bucket.bucketDomainName].map(
      (host) => `https://${host}`,
    );
    this.web = new Web(this, 'Web', {
      distPath: props.webDist ?? path.join(REPO_ROOT, 'web', 'dist'),
      apiUrl: this.api.url,
      accessLogs: this.accessLogs.bucket,
      domain: props.webDomain,
      csp: { media: mediaHosts, connect: [...mediaHosts, `https://cognito-idp.${this.region}.amazonaws.com`, this.live.url] },
      runtimeConfig: {
        apiBase: '/api',
        liveUrl: this.live.url,
        auth: {
          type: 'cognito',
          region: this.region,
          userPoolId: this.auth.userPool.userPoolId,
          clientId: this.auth.userPoolClient.userPoolClientId,
        },
      },
    });
    new SpaOriginCors(this, 'MediaCors', { bucket: this.storage.bucket, origins: this.web.origins });
    // Only the functions that call the provider may read its key: admission (s3-event) and wait-for-slot never do.
    const providerCallers = [
      this.admission.apiFunction,
      ...this.jobs.functions.filter((fn) => fn.handlerFile !== 'wait-for-slot'),
      this.healing.sweeper,
      this.healing.cleanup,
    ];
    for (const fn of providerCallers) this.providerApiKey.grantRead(fn);
    // Web Push: the api serves the public key; finalize and the healers send when a job ends (no VPC, like the provider calls).
    const pushSenders = [
      this.admission.apiFunction,
      ...this.jobs.functions.filter((fn) => fn.handlerFile === 'finalize'),
      this.healing.sweeper,
      this.healing.cleanup,
    ];
    for (const fn of pushSenders) fn.readsSecret(this.vapidKey);
    for (const fn of [...this.jobs.functions, this.healing.cleanup]) {
      const reserved = props.reservedConcurrency?.[fn.handlerFile as HandoffFunction];
      if (reserved !== undefined) (fn.node.defaultChild as CfnFunction).reservedConcurrentExecutions = reserved;
    }
    this.alerts = new Alerts(this, 'Alerts', {
      email: props.alarmEmail,
      stateMachine: this.jobs.stateMachine,
      functions: [
        this.admission.apiFunction,
        this.admission.s3EventFunction,
        ...this.jobs.functions,
        this.healing.sweeper,
        this.healing.cleanup,
        this.live.connections,
        this.live.authorizer,
      ],
    });

    new CfnOutput(this, 'WebUrl', { value: `https://${this.web.distribution.distributionDomainName}` });
    new CfnOutput(this, 'ApiUrl', { value: this.api.url });
    new CfnOutput(this, 'BucketName', { value: this.storage.bucket.bucketName });
    new CfnOutput(this, 'TableName', { value: this.storage.table.tableName });
    new CfnOutput(this, 'UserPoolId', { value: this.auth.userPool.userPoolId });
    new CfnOutput(this, 'UserPoolClientId', { value: this.auth.userPoolClient.userPoolClientId });
    new CfnOutput(this, 'ProviderApiKeySecret', { value: this.providerApiKey.secretName });
    new CfnOutput(this, 'LiveUrl', { value: this.live.url });
    new CfnOutput(this, 'StateMachineArn', { value: this.jobs.stateMachine.stateMachineArn });
  }
}
