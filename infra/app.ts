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
function signupCredits(): number | undefined {
  const value = app.node.tryGetContext('signupCredits');
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 0) throw new Error('Context signupCredits must be a whole number (0 or more)');
  return number;
}
/** The provider account is required deploy configuration: without it every function would crash at cold start. */
function runningHub() {
  const apiKey = app.node.tryGetContext('runningHubApiKey');
  const workflows = app.node.tryGetContext('runningHubWorkflows');
  const missing = [!apiKey && 'runningHubApiKey', !workflows && 'runningHubWorkflows'].filter(Boolean);
  if (missing.length > 0) {
    throw new Error(
      `Missing deploy configuration: pass ${missing.map((key) => `-c ${key}=…`).join(' and ')} ` +
        `(runningHubWorkflows maps each tool to its RunningHub workflow id, e.g. '{"upscale-image":"1950…",…}'; see README "Deploy").`,
    );
  }
  return { apiKey: String(apiKey), workflows: typeof workflows === 'string' ? workflows : JSON.stringify(workflows) };
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
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
