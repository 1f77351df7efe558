import { App } from 'aws-cdk-lib';
import { GhostlessStack } from './ghostless-stack';
import { enforceAwsSolutions } from './nag';
import { parseReservedConcurrency } from './reserved-concurrency';

const app = new App();
// cdk-nag AwsSolutions: synthesis (and so deployment) fails on any finding not acknowledged with a reason.
enforceAwsSolutions(app);
// Optional overrides: `cdk deploy -c objectRetentionDays=14 -c jobRetentionDays=60`.
const days = (key: string): number | undefined => {
  const value = app.node.tryGetContext(key);
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new Error(`Context ${key} must be a positive whole number`);
  return number;
};
function signupCredits(): number | undefined {
  const value = app.node.tryGetContext('signupCredits');
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 0) throw new Error('Context signupCredits must be a whole number (0 or more)');
  return number;
}
/**
 * The provider's workflow map is required deploy configuration: without it every function would crash at cold start.
 * The API key is not configuration but a secret: it goes into Secrets Manager after deploy, never through CDK.
 */
function runningHub() {
  if (app.node.tryGetContext('runningHubApiKey') !== undefined) {
    throw new Error(
      'The RunningHub API key is a secret and never passes through CDK: drop -c runningHubApiKey, deploy, then store ' +
        'the key with `aws secretsmanager put-secret-value --secret-id <ProviderApiKeySecret output> --secret-string …` (README "Deploy").',
    );
  }
  const workflows = app.node.tryGetContext('runningHubWorkflows');
  if (!workflows) {
    throw new Error(
      'Missing deploy configuration: pass -c runningHubWorkflows=… ' +
        `(runningHubWorkflows maps each tool to its RunningHub workflow or AI app and node fields, e.g. ` +
        `'{"upscale-image":{"workflowId":"1950…","inputs":{"image":{"nodeId":"10","fieldName":"image"}}},…}': ` +
        `docs/PRODUCT.md "Provider configuration"; \`npm run provider:inspect -- <workflowId>\` lists the node ids).`,
    );
  }
  return { workflows: typeof workflows === 'string' ? workflows : JSON.stringify(workflows) };
}

new GhostlessStack(app, 'Ghostless', {
  description: 'Ghostless: AI image/video jobs that never stay stuck',
  objectRetentionDays: days('objectRetentionDays'),
  jobRetentionDays: days('jobRetentionDays'),
  maxRunning: days('maxRunning'),
  // `-c signupCredits=5` (or `--parameters SignupCredits=5` at deploy): credits a new user gets once.
  signupCredits: signupCredits(),
  runningHub: runningHub(),
  // `-c webDomain=app.example.com -c webCertificateArn=arn:aws:acm:us-east-1:…` serves the SPA on that name, TLS 1.2+ only.
  webDomain: app.node.tryGetContext('webDomain')
    ? { names: [app.node.tryGetContext('webDomain')], certificateArn: app.node.tryGetContext('webCertificateArn') }
    : undefined,
  // `-c cognitoFeaturePlan=essentials` trades threat protection for a lower price.
  cognitoFeaturePlan: app.node.tryGetContext('cognitoFeaturePlan'),
  // `-c alarmEmail=ops@example.com`: every alarm e-mails there.
  alarmEmail: app.node.tryGetContext('alarmEmail'),
  // `-c reservedConcurrency=on` (or a JSON object per function): off by default, as a new account cannot reserve any.
  reservedConcurrency: parseReservedConcurrency(app.node.tryGetContext('reservedConcurrency'), days('maxRunning') ?? 3),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
