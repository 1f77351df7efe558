import { App } from 'aws-cdk-lib';
import { GhostlessStack } from './ghostless-stack';

const app = new App();
// Optional overrides: `cdk deploy -c objectRetentionDays=14 -c jobRetentionDays=60`.
const days = (key: string): number | undefined => {
  const value = app.node.tryGetContext(key);
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new Error(`Context ${key} must be a positive whole number`);
  return number;
};
/** The operator's map is required to deploy: without it every job would fail on its first provider call. */
function workflowMap(): string {
  const value: unknown = app.node.tryGetContext('runningHubWorkflows');
  if (value === undefined || value === '') {
    throw new Error(
      'Context runningHubWorkflows is missing: pass -c runningHubWorkflows=\'{"upscale-image":{"workflowId":"…","inputs":{"image":{"nodeId":"…","fieldName":"image"}}},…}\' (SPEC.md "Provider configuration"; `npm run provider:inspect -- <workflowId>` lists the node ids).',
    );
  }
  // Given in cdk.json's context it arrives as an object; on the command line, as a string.
  return typeof value === 'string' ? value : JSON.stringify(value);
}

new GhostlessStack(app, 'Ghostless', {
  description: 'Ghostless: AI image/video jobs that never stay stuck',
  objectRetentionDays: days('objectRetentionDays'),
  jobRetentionDays: days('jobRetentionDays'),
  maxRunning: days('maxRunning'),
  // `-c runningHubApiKey=… -c runningHubWorkflows='{"upscale-image":{"workflowId":"…","inputs":{…}},…}'`
  runningHub: app.node.tryGetContext('runningHubApiKey') ? { apiKey: app.node.tryGetContext('runningHubApiKey') } : undefined,
  runningHubWorkflows: workflowMap(),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
