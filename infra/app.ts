import { App } from 'aws-cdk-lib';
import { GhostlessStack } from './ghostless-stack';
import { enforceAwsSolutions } from './nag';

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
new GhostlessStack(app, 'Ghostless', {
  description: 'Ghostless: AI image/video jobs that never stay stuck',
  objectRetentionDays: days('objectRetentionDays'),
  jobRetentionDays: days('jobRetentionDays'),
  maxRunning: days('maxRunning'),
  // `-c runningHubApiKey=… -c runningHubWorkflows='{"upscale-image":"…",…}'`
  runningHub: app.node.tryGetContext('runningHubApiKey')
    ? { apiKey: app.node.tryGetContext('runningHubApiKey'), workflows: app.node.tryGetContext('runningHubWorkflows') ?? '{}' }
    : undefined,
  // `-c webDomain=app.example.com -c webCertificateArn=arn:aws:acm:us-east-1:…` serves the SPA on that name, TLS 1.2+ only.
  webDomain: app.node.tryGetContext('webDomain')
    ? { names: [app.node.tryGetContext('webDomain')], certificateArn: app.node.tryGetContext('webCertificateArn') }
    : undefined,
  // `-c cognitoFeaturePlan=essentials` trades threat protection for a lower price.
  cognitoFeaturePlan: app.node.tryGetContext('cognitoFeaturePlan'),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
