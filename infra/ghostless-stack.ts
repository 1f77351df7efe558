import path from 'node:path';
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { parseWorkflowMap } from '../lambdas/adapters/runninghub-workflows';
import { BUNDLED_WORKFLOW_MAP_JSON } from '../local/provider/workflows';
import { Admission } from './constructs/admission';
import { Api } from './constructs/api';
import { Auth } from './constructs/auth';
import { REPO_ROOT } from './constructs/ghostless-function';
import { Healing } from './constructs/healing';
import { JobMachine, stateMachineArnOf } from './constructs/job-machine';
import { Storage } from './constructs/storage';
import { Web } from './constructs/web';

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
  /** The built SPA; defaults to web/dist. */
  webDist?: string;
  /** RunningHub account. */
  runningHub?: { baseUrl?: string; apiKey: string };
  /**
   * RUNNINGHUB_WORKFLOWS (SPEC.md "Provider configuration"), validated here: a malformed map stops synthesis.
   * Omitted, the bundled provider's own map (tests, the local stack); `infra/app.ts` always passes the operator's.
   */
  runningHubWorkflows?: string;
}

export class GhostlessStack extends Stack {
  readonly storage: Storage;
  readonly auth: Auth;
  readonly admission: Admission;
  readonly api: Api;
  readonly jobs: JobMachine;
  readonly healing: Healing;
  readonly web: Web;

  constructor(scope: Construct, id: string, props: GhostlessStackProps = {}) {
    super(scope, id, props);
    this.storage = new Storage(this, 'Storage', { objectRetentionDays: props.objectRetentionDays });
    this.auth = new Auth(this, 'Auth');
    const stateMachine = stateMachineArnOf(this);
    const workflows = props.runningHubWorkflows ?? BUNDLED_WORKFLOW_MAP_JSON;
    parseWorkflowMap(workflows, 'runningHubWorkflows'); // throws, naming the tool and field, before anything deploys
    const environment = {
      JOB_RETENTION_DAYS: String(props.jobRetentionDays ?? 30),
      MAX_RUNNING: String(props.maxRunning ?? 3),
      QUEUE_TIMEOUT_SECONDS: String(props.queueTimeoutSeconds ?? 3600),
      RUN_TIMEOUT_SECONDS: String(props.runTimeoutSeconds ?? 900),
      STATE_MACHINE_ARN: stateMachine.arn,
      RUNNINGHUB_BASE_URL: props.runningHub?.baseUrl ?? 'https://www.runninghub.ai',
      RUNNINGHUB_API_KEY: props.runningHub?.apiKey ?? 'unset',
      RUNNINGHUB_WORKFLOWS: workflows,
    };
    this.admission = new Admission(this, 'Admission', { storage: this.storage, environment, stateMachine });
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

    this.web = new Web(this, 'Web', {
      distPath: props.webDist ?? path.join(REPO_ROOT, 'web', 'dist'),
      apiUrl: this.api.url,
      runtimeConfig: {
        apiBase: '/api',
        auth: {
          type: 'cognito',
          region: this.region,
          userPoolId: this.auth.userPool.userPoolId,
          clientId: this.auth.userPoolClient.userPoolClientId,
        },
      },
    });

    new CfnOutput(this, 'WebUrl', { value: `https://${this.web.distribution.distributionDomainName}` });
    new CfnOutput(this, 'ApiUrl', { value: this.api.url });
    new CfnOutput(this, 'BucketName', { value: this.storage.bucket.bucketName });
    new CfnOutput(this, 'TableName', { value: this.storage.table.tableName });
    new CfnOutput(this, 'UserPoolId', { value: this.auth.userPool.userPoolId });
    new CfnOutput(this, 'UserPoolClientId', { value: this.auth.userPoolClient.userPoolClientId });
    new CfnOutput(this, 'StateMachineArn', { value: this.jobs.stateMachine.stateMachineArn });
  }
}
