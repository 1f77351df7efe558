#!/usr/bin/env node
/**
 * `npm run test:localstack` — opt-in: deploy the synthesized CDK cloud assembly to LocalStack and run the HTTP
 * e2e suite against the deployed stack. See docs/LOCALSTACK.md.
 *
 * Needs BOTH a usable Docker engine (`docker info` succeeds) and LOCALSTACK_AUTH_TOKEN (the LocalStack images need
 * it to start). Without either it prints one line naming what is missing and exits 0, so CI machines without
 * Docker never fail on it. With both, any failure (LocalStack, synth, bootstrap, deploy, tests) exits non-zero.
 *
 * Steps:
 *   1. LocalStack: use the one answering at LOCALSTACK_ENDPOINT (default http://localhost:4566), else
 *      `docker run` LOCALSTACK_IMAGE (default localstack/localstack-pro) with the token and the Docker socket
 *      (LocalStack runs Lambda functions in containers). A container started here is stopped on exit.
 *   2. Assembly: CLOUD_ASSEMBLY=<dir> is deployed as it is; otherwise the SPA is built and the app synthesized
 *      once with cdklocal (account 000000000000) into .local/localstack/cdk.out. Context comes from the
 *      environment as in the README's Deploy section: RUNNINGHUB_WORKFLOWS → runningHubWorkflows,
 *      MAX_RUNNING → maxRunning. After deploy, RUNNINGHUB_API_KEY (if set) is stored in the ProviderApiKeySecret
 *      secret, as an operator's put-secret-value would.
 *   3. `cdklocal bootstrap aws://000000000000/<region>` and
 *      `cdklocal deploy --app <assembly> --require-approval never --outputs-file .local/localstack/outputs.json`.
 *   4. `vitest run test/e2e --project localstack` with the stack outputs in the environment.
 *
 * What the e2e suite gets (its support for an external stack lives in the suite, not here):
 *   GHOSTLESS_API_URL            the stack's ApiUrl output (HTTP API base URL; routes are under /api)
 *   GHOSTLESS_WEB_URL, GHOSTLESS_USER_POOL_ID, GHOSTLESS_USER_POOL_CLIENT_ID, GHOSTLESS_TABLE_NAME,
 *   GHOSTLESS_BUCKET_NAME, GHOSTLESS_STATE_MACHINE_ARN   the other outputs, when present
 *   AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID=test, AWS_SECRET_ACCESS_KEY=test   to reach LocalStack directly
 * It must select the `localstack` vitest project and skip the in-process local stack when GHOSTLESS_API_URL is set.
 *
 * Other knobs: AWS_REGION (default us-east-1), LOCALSTACK_IMAGE, LOCALSTACK_S3_ENDPOINT (S3 endpoint for a custom
 * LOCALSTACK_ENDPOINT; default s3.localhost.localstack.cloud on the same port), LOCALSTACK_KEEP=1 (leave a
 * container started here running).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(import.meta.url), '../..');
const WORK = join(ROOT, '.local', 'localstack');
const ACCOUNT = '000000000000';
const REGION = process.env.AWS_REGION || process.env.AWS_DEFAULT_REGION || 'us-east-1';
const STACK = 'Ghostless';
const log = (message) => console.log(`test:localstack: ${message}`);

class StepFailedError extends Error {
  name = 'StepFailedError';
}

/** The one line to print when something is missing, else undefined. */
export function skipMessage(env = process.env, docker = dockerStatus()) {
  const missing = [];
  if (docker !== 'ok') missing.push(docker === 'no-cli' ? 'no Docker CLI (docker not found)' : 'no Docker engine (docker info failed)');
  if (!env.LOCALSTACK_AUTH_TOKEN) missing.push('LOCALSTACK_AUTH_TOKEN is not set');
  return missing.length > 0 ? `test:localstack skipped: ${missing.join(' and ')}` : undefined;
}

export function dockerStatus() {
  const result = spawnSync('docker', ['info'], { stdio: 'ignore', timeout: 20_000 });
  if (result.error?.code === 'ENOENT') return 'no-cli';
  return result.status === 0 ? 'ok' : 'no-engine';
}

function run(command, args, options = {}) {
  log(`$ ${command} ${args.join(' ')}`);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: 'inherit', ...options });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolvePromise(signal ? 1 : (code ?? 1)));
  });
}

async function mustRun(step, command, args, options) {
  const code = await run(command, args, options);
  if (code !== 0) throw new StepFailedError(`${step} failed (exit ${code})`);
}

async function isHealthy(endpoint) {
  try {
    const response = await fetch(new URL('/_localstack/health', endpoint), { signal: AbortSignal.timeout(3_000) });
    return response.ok;
  } catch {
    return false;
  }
}

/** Starts LocalStack unless one already answers; returns the container id to stop, if any. */
async function ensureLocalStack(endpoint) {
  if (await isHealthy(endpoint)) {
    log(`using the LocalStack running at ${endpoint}`);
    return undefined;
  }
  const url = new URL(endpoint);
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  const image = process.env.LOCALSTACK_IMAGE || 'localstack/localstack-pro';
  const args = [
    'run',
    '-d',
    '--rm',
    '-p',
    `${port}:4566`,
    '-e',
    'LOCALSTACK_AUTH_TOKEN',
    '-v',
    '/var/run/docker.sock:/var/run/docker.sock',
    image,
  ];
  log(`starting ${image} on port ${port}`);
  const started = spawnSync('docker', args, { encoding: 'utf8', env: process.env });
  if (started.status !== 0) throw new StepFailedError(`docker run ${image} failed: ${(started.stderr || '').trim()}`);
  const container = started.stdout.trim();
  const deadline = Date.now() + 180_000;
  while (!(await isHealthy(endpoint))) {
    if (Date.now() > deadline) {
      stopContainer(container);
      throw new StepFailedError(`LocalStack did not become healthy at ${endpoint} within 180 s`);
    }
    await new Promise((r) => setTimeout(r, 2_000));
  }
  log(`LocalStack is up (container ${container.slice(0, 12)})`);
  return container;
}

function stopContainer(container) {
  if (!container || process.env.LOCALSTACK_KEEP === '1') return;
  log(`stopping container ${container.slice(0, 12)}`);
  spawnSync('docker', ['stop', container], { stdio: 'ignore', timeout: 60_000 });
}

/** Environment for cdklocal: it reads AWS_ENDPOINT_URL(_S3) or derives them from EDGE_PORT, and drops other AWS_* vars. */
function cdklocalEnv(endpoint, custom) {
  const env = { ...process.env, CDK_DISABLE_VERSION_CHECK: '1', AWS_REGION: REGION, AWS_DEFAULT_REGION: REGION };
  env.AWS_ENVAR_ALLOWLIST = 'AWS_REGION,AWS_DEFAULT_REGION';
  const url = new URL(endpoint);
  if (custom) {
    env.AWS_ENDPOINT_URL = endpoint;
    env.AWS_ENDPOINT_URL_S3 = process.env.LOCALSTACK_S3_ENDPOINT || `${url.protocol}//s3.localhost.localstack.cloud:${url.port || 4566}`;
  } else {
    env.EDGE_PORT = url.port || '4566';
  }
  return env;
}

function contextArgs() {
  const context = { runningHubWorkflows: 'RUNNINGHUB_WORKFLOWS', maxRunning: 'MAX_RUNNING' };
  return Object.entries(context).flatMap(([key, variable]) => (process.env[variable] ? ['-c', `${key}=${process.env[variable]}`] : []));
}

/** The provider key never passes through CDK: like an operator, put it into the deployed secret. */
async function storeProviderKey(outputsFile, endpoint) {
  const secretId = JSON.parse(readFileSync(outputsFile, 'utf8'))[STACK]?.ProviderApiKeySecret;
  if (!process.env.RUNNINGHUB_API_KEY || !secretId) return;
  const { SecretsManagerClient, PutSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
  const client = new SecretsManagerClient({ endpoint, region: REGION, credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
  await client.send(new PutSecretValueCommand({ SecretId: secretId, SecretString: process.env.RUNNINGHUB_API_KEY }));
  log(`stored RUNNINGHUB_API_KEY in ${secretId}`);
}

function e2eEnv(outputsFile, endpoint) {
  const outputs = JSON.parse(readFileSync(outputsFile, 'utf8'))[STACK] ?? {};
  if (!outputs.ApiUrl) throw new StepFailedError(`${outputsFile} has no ${STACK}.ApiUrl output`);
  const names = {
    ApiUrl: 'GHOSTLESS_API_URL',
    WebUrl: 'GHOSTLESS_WEB_URL',
    UserPoolId: 'GHOSTLESS_USER_POOL_ID',
    UserPoolClientId: 'GHOSTLESS_USER_POOL_CLIENT_ID',
    TableName: 'GHOSTLESS_TABLE_NAME',
    BucketName: 'GHOSTLESS_BUCKET_NAME',
    StateMachineArn: 'GHOSTLESS_STATE_MACHINE_ARN',
  };
  const env = { ...process.env, AWS_ENDPOINT_URL: endpoint, AWS_REGION: REGION, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' };
  for (const [output, variable] of Object.entries(names)) if (outputs[output]) env[variable] = outputs[output];
  return env;
}

async function main() {
  const skip = skipMessage();
  if (skip) {
    console.log(skip);
    return 0;
  }
  const custom = Boolean(process.env.LOCALSTACK_ENDPOINT);
  const endpoint = process.env.LOCALSTACK_ENDPOINT || 'http://localhost:4566';
  const container = await ensureLocalStack(endpoint);
  const stop = () => stopContainer(container);
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      stop();
      process.exit(130);
    });
  }
  try {
    mkdirSync(WORK, { recursive: true });
    const cdk = cdklocalEnv(endpoint, custom);
    let assembly = process.env.CLOUD_ASSEMBLY ? resolve(process.env.CLOUD_ASSEMBLY) : join(WORK, 'cdk.out');
    if (process.env.CLOUD_ASSEMBLY) {
      if (!existsSync(join(assembly, 'manifest.json'))) throw new StepFailedError(`CLOUD_ASSEMBLY=${assembly} has no manifest.json`);
      log(`deploying the assembly in ${assembly} as it is`);
    } else {
      await mustRun('SPA build', 'npm', ['run', 'build:web', '--silent']);
      await mustRun('synth', 'npx', ['cdklocal', 'synth', '--quiet', '--output', assembly, ...contextArgs()], { env: cdk });
      assembly = resolve(assembly);
    }
    await mustRun('bootstrap', 'npx', ['cdklocal', 'bootstrap', `aws://${ACCOUNT}/${REGION}`, '--app', assembly], { env: cdk });
    const outputsFile = join(WORK, 'outputs.json');
    await mustRun(
      'deploy',
      'npx',
      ['cdklocal', 'deploy', STACK, '--app', assembly, '--require-approval', 'never', '--outputs-file', outputsFile],
      {
        env: cdk,
      },
    );
    await storeProviderKey(outputsFile, endpoint);
    return await run('npx', ['vitest', 'run', 'test/e2e', '--project', 'localstack'], { env: e2eEnv(outputsFile, endpoint) });
  } finally {
    stop();
  }
}

// Imported by tests for skipMessage(); runs only as a script.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (error) => {
      console.error(`test:localstack failed: ${error instanceof StepFailedError ? error.message : error?.stack || error}`);
      process.exit(1);
    },
  );
}
