import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../infra/constructs/ghostless-function';

/**
 * The README's deploy guide, step by step, against the app as `cdk deploy` synthesizes it (infra/app.ts with
 * cdk.json's context and exactly the values of deploy/example.context.json; only asset bundling is skipped).
 */
const outdir = mkdtempSync(join(tmpdir(), 'ghostless-deploy-guide-'));
const example = JSON.parse(readFileSync(join(REPO_ROOT, 'deploy', 'example.context.json'), 'utf8')) as Record<string, unknown>;
const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const cdkContext = JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')).context;

type Resource = { Type: string; Metadata?: Record<string, unknown>; Properties: Record<string, unknown> };
let template: { Parameters: Record<string, { Default?: unknown }>; Resources: Record<string, Resource> };
const ofType = (type: string) => Object.values(template.Resources).filter((r) => r.Type === type);

beforeAll(() => {
  // The SPA is part of the deployment; `npm test` builds it first, a lone infra run may not have.
  if (!existsSync(join(REPO_ROOT, 'web', 'dist', 'index.html'))) {
    expect(spawnSync('npm', ['run', 'build:web', '--silent'], { cwd: REPO_ROOT, stdio: 'inherit' }).status).toBe(0);
  }
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'infra/app.ts'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      CDK_OUTDIR: outdir,
      CDK_CONTEXT_JSON: JSON.stringify({ ...cdkContext, ...example, 'aws:cdk:bundling-stacks': [] }),
      CDK_DEFAULT_ACCOUNT: '123456789012',
      CDK_DEFAULT_REGION: 'us-east-1',
    },
    encoding: 'utf8',
  });
  expect(result.status, result.stderr).toBe(0);
  template = JSON.parse(readFileSync(join(outdir, 'Ghostless.template.json'), 'utf8'));
}, 180_000);
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('the deploy guide', () => {
  it('documents every context value of the example file, and keeps the first screen to the two commands', () => {
    for (const key of Object.keys(example)) expect(readme, key).toContain(`\`${key}\``);
    expect(readme).toContain('cp deploy/example.context.json cdk.context.json');
    const firstScreen = readme.split('\n').slice(0, 20).join('\n');
    expect(firstScreen.match(/^npm [^\n]*$/gm)?.map((line) => line.replace(/\s+#.*/, ''))).toEqual([
      'npm ci && npm start',
      'npm ci && npm test',
    ]);
  });

  it('deploys the workflow map, file hosts and retention the example sets', () => {
    // The push channel's connection and authorizer functions hold no job configuration.
    const functions = ofType('AWS::Lambda::Function').filter(
      (fn) => typeof fn.Metadata?.['ghostless:handler'] === 'string' && !String(fn.Metadata['ghostless:handler']).startsWith('live-'),
    );
    const env = (fn: Resource) => (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(functions.length).toBeGreaterThanOrEqual(8);
    for (const fn of functions) {
      expect(JSON.parse(env(fn).RUNNINGHUB_WORKFLOWS as string)).toEqual(example.runningHubWorkflows);
      expect(env(fn).RUNNINGHUB_FILE_HOSTS).toBe(example.runningHubFileHosts);
      expect(env(fn).JOB_RETENTION_DAYS).toBe(String(example.jobRetentionDays));
    }
    const rules = JSON.stringify(ofType('AWS::S3::Bucket').map((b) => b.Properties.LifecycleConfiguration));
    expect(rules).toContain(`"ExpirationInDays":${example.objectRetentionDays}`);
  });

  it('takes the limits as parameter defaults, changeable at deploy', () => {
    expect(Number(template.Parameters.MaxRunning?.Default)).toBe(example.maxRunning);
    expect(Number(template.Parameters.SignupCredits?.Default)).toBe(example.signupCredits);
    for (const name of ['QueueTimeoutSeconds', 'RunTimeoutSeconds', 'HealGraceMs', 'RunningHubBaseUrl']) {
      expect(template.Parameters[name], name).toBeDefined();
      expect(readme).toContain(`--parameters ${name}=`);
    }
  });

  it('keeps the provider key out of the template and names the secret to store it in', () => {
    const text = JSON.stringify(template);
    expect(text).not.toMatch(/RUNNINGHUB_API_KEY"/);
    // Two secrets: the provider key the operator stores, and the VAPID seed Secrets Manager generates (nothing to store).
    expect(ofType('AWS::SecretsManager::Secret')).toHaveLength(2);
    expect(readme).toContain('derived from the `VapidKey` secret, whose random value Secrets');
    expect(text).toContain('"ProviderApiKeySecret"');
    expect(readme).toContain('aws secretsmanager put-secret-value --secret-id <ProviderApiKeySecret output>');
  });

  it('sets up the first user, the operator credits command and the alarms e-mail', () => {
    expect(ofType('AWS::Cognito::UserPool')).toHaveLength(1);
    expect(ofType('AWS::Cognito::UserPool')[0]?.Properties.UserPoolTier).toBe(String(example.cognitoFeaturePlan).toUpperCase());
    expect(readme).toContain('npm run credits -- grant <user sub> 10 --reason');
    expect(ofType('AWS::SNS::Subscription').map((s) => [s.Properties.Protocol, s.Properties.Endpoint])).toEqual([
      ['email', example.alarmEmail],
    ]);
    expect(ofType('AWS::CloudWatch::Alarm').length).toBeGreaterThanOrEqual(6);
    expect(ofType('AWS::CloudWatch::Dashboard')).toHaveLength(1);
  });

  it('reserves no concurrency with the example, as a new account needs, and tears down keeping the data', () => {
    expect(ofType('AWS::Lambda::Function').filter((fn) => fn.Properties.ReservedConcurrentExecutions !== undefined)).toEqual([]);
    const retained = Object.values(template.Resources).filter((r) => (r as { DeletionPolicy?: string }).DeletionPolicy === 'Retain');
    expect(retained.map((r) => r.Type)).toEqual(expect.arrayContaining(['AWS::DynamoDB::Table', 'AWS::Cognito::UserPool']));
    expect(readme).toContain('npx cdk destroy');
  });
});
