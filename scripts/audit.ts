/**
 * `npm run audit [-- --json]` — what the job table looks like right now, and every straggler.
 *
 * Per tool: jobs by status, the oldest queued and running ages. Then every straggler the sweeper would
 * heal on its next run (same rules as `lambdas/domain/healing.ts`: grace HEAL_GRACE_MS, queue timeout,
 * deadline, execution status, lost wake-ups), plus the ones it would NOT heal (marked "sweeper: no") — an
 * queued job without a queue entry… — and, for every user, that the balance equals the sum of the ledger.
 * With the provider key it also compares the tasks the key runs (`/uc/openapi/accountStatus` currentTaskCounts)
 * with the running jobs that hold one (or sent a create): the difference is tasks Ghostless cannot account for —
 * the key's other clients', or ones it lost. The key: RUNNINGHUB_API_KEY, else the Secrets Manager secret
 * RUNNINGHUB_API_KEY_SECRET (--provider-key-secret; with --aws, the stack output ProviderApiKeySecret), read with
 * the caller's credentials and never printed; the endpoint: RUNNINGHUB_BASE_URL, else the stack's
 * RunningHubBaseUrl parameter, else https://www.runninghub.ai.
 *
 * Where it looks:
 *   --local [--data-dir DIR]   the local stack's data (DATA_DIR, default .local/): uses the DynamoDB Local
 *                              that is serving that directory if the stack runs, else starts one on it.
 *   AWS_ENDPOINT_URL_DYNAMODB  any DynamoDB endpoint (e.g. the local stack's; tests).
 *   --aws [--stack NAME]       the account in the usual AWS environment (AWS_PROFILE, AWS_REGION, …); what is not
 *                              given is read from the stack (default Ghostless): outputs TableName, StateMachineArn,
 *                              ProviderApiKeySecret and parameter RunningHubBaseUrl.
 * Without --local/--aws: an endpoint if set, else AWS when AWS credentials are in the environment, else local.
 *
 * Other flags: --table NAME (TABLE_NAME; default the stack's, locally ghostless-jobs), --grace-ms N (HEAL_GRACE_MS, default 120000),
 * --max-running N (MAX_RUNNING, default 3), --state-machine-arn ARN (STATE_MACHINE_ARN), --json.
 * Execution status needs Step Functions: in AWS, or with AWS_ENDPOINT_URL_SFN + STATE_MACHINE_ARN. Without it
 * (a local stack's executions live in its process) driver checks are reported as "unverified".
 * Read-only: the audit never writes to the table.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient, type SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { secretString } from '../lambdas/adapters/provider-key';
import { accountTaskCount } from '../lambdas/adapters/runninghub';
import { SfnWorkflow } from '../lambdas/adapters/sfn-workflow';
import { type AuditOptions, audit, renderAudit } from './audit-report';
import { deployedStack } from './deployed-stack';

interface Args {
  json: boolean;
  mode: 'aws' | 'local' | 'endpoint';
  dataDir: string;
  table: string | undefined;
  graceMs: number;
  capacity: number;
  stateMachineArn: string | undefined;
  stack: string;
  /** The provider key itself, or the secret holding it; undefined = found in the stack (aws) or not checked. */
  providerKey: { apiKey: string } | { secretId: string } | undefined;
  providerBaseUrl: string | undefined;
}

function parseArgs(argv: string[], env: NodeJS.ProcessEnv): Args {
  const flag = (name: string) => argv.includes(`--${name}`);
  const value = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  };
  const number = (text: string | undefined, fallback: number, name: string) => {
    if (text === undefined || text === '') return fallback;
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a whole number`);
    return n;
  };
  const hasAwsCredentials = Boolean(
    env.AWS_PROFILE ||
      env.AWS_ACCESS_KEY_ID ||
      env.AWS_WEB_IDENTITY_TOKEN_FILE ||
      env.AWS_CONTAINER_CREDENTIALS_FULL_URI ||
      env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI,
  );
  const mode = flag('aws')
    ? 'aws'
    : flag('local') || value('data-dir')
      ? 'local'
      : env.AWS_ENDPOINT_URL_DYNAMODB || value('endpoint')
        ? 'endpoint'
        : hasAwsCredentials
          ? 'aws'
          : 'local';
  return {
    json: flag('json'),
    mode,
    dataDir: resolve(value('data-dir') ?? env.DATA_DIR ?? '.local'),
    table: value('table') ?? env.TABLE_NAME,
    graceMs: number(value('grace-ms') ?? env.HEAL_GRACE_MS, 120_000, 'HEAL_GRACE_MS'),
    capacity: number(value('max-running') ?? env.MAX_RUNNING, 3, 'MAX_RUNNING'),
    stateMachineArn: value('state-machine-arn') ?? env.STATE_MACHINE_ARN,
    stack: value('stack') ?? 'Ghostless',
    providerKey: env.RUNNINGHUB_API_KEY
      ? { apiKey: env.RUNNINGHUB_API_KEY }
      : (value('provider-key-secret') ?? env.RUNNINGHUB_API_KEY_SECRET)
        ? { secretId: (value('provider-key-secret') ?? env.RUNNINGHUB_API_KEY_SECRET) as string }
        : undefined,
    providerBaseUrl: env.RUNNINGHUB_BASE_URL || undefined,
  };
}

/** The port of a DynamoDB Local already serving `<dataDir>/dynamodb` (the running local stack's), from /proc. */
function runningDynamoDbLocal(dataDir: string): number | undefined {
  const dbPath = join(dataDir, 'dynamodb');
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined; // not Linux: start our own
  }
  for (const pid of entries) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!argv.some((a) => a.endsWith('DynamoDBLocal.jar'))) continue;
      if (argv[argv.indexOf('-dbPath') + 1] !== dbPath) continue;
      const port = Number(argv[argv.indexOf('-port') + 1]);
      if (port) return port;
    } catch {}
  }
  return undefined;
}

async function main() {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const args = parseArgs(process.argv.slice(2), process.env);
  let stopLocal: (() => Promise<void>) | undefined;
  let endpoint: string | undefined;
  let credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  let region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;

  if (args.mode === 'local') {
    const { S3RVER_CREDENTIALS } = await import('../local/emulators/s3');
    credentials = S3RVER_CREDENTIALS;
    region = 'us-east-1';
    const port = runningDynamoDbLocal(args.dataDir);
    if (port) endpoint = `http://127.0.0.1:${port}`;
    else if (!existsSync(join(args.dataDir, 'dynamodb'))) {
      throw new Error(`No local stack data in ${args.dataDir} (set DATA_DIR or --data-dir; --aws for an AWS account)`);
    } else {
      const { startDynamoDbLocal } = await import('../local/emulators/dynamodb');
      const local = await startDynamoDbLocal({ dataDir: join(args.dataDir, 'dynamodb') });
      endpoint = local.endpoint;
      stopLocal = local.stop;
    }
  } else if (args.mode === 'endpoint') {
    endpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB;
    region ??= 'us-east-1';
    if (!process.env.AWS_ACCESS_KEY_ID) credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  }

  // With --aws, what the flags do not give is read from the deployed stack.
  const stack =
    args.mode === 'aws'
      ? await deployedStack(args.stack).catch((error) => {
          if (args.table) return undefined;
          throw new Error(`${error instanceof Error ? error.message : error} (or pass --table NAME)`);
        })
      : undefined;
  const table = args.table ?? stack?.output('TableName') ?? 'ghostless-jobs';
  const stateMachineArn = args.stateMachineArn ?? stack?.output('StateMachineArn');
  const keySecret = stack?.output('ProviderApiKeySecret');
  const providerKey = args.providerKey ?? (keySecret ? { secretId: keySecret } : undefined);
  const providerBaseUrl = args.providerBaseUrl ?? stack?.parameter('RunningHubBaseUrl') ?? 'https://www.runninghub.ai';
  const clientConfig = { ...(region ? { region } : {}), ...(credentials ? { credentials } : {}) };

  const dynamo = new DynamoDBClient({ ...(endpoint ? { endpoint } : {}), ...clientConfig });
  const doc = DynamoDBDocumentClient.from(dynamo);
  let sfn: SFNClient | undefined;
  try {
    // Execution status: AWS, or an explicit Step Functions endpoint. A local stack's executions live in its own process.
    let executionStatus: AuditOptions['executionStatus'];
    if (stateMachineArn && (args.mode === 'aws' || process.env.AWS_ENDPOINT_URL_SFN)) {
      sfn = new SFNClient(clientConfig);
      const workflow = new SfnWorkflow(
        sfn,
        stateMachineArn,
        () => ({}),
        () => {},
      );
      executionStatus = (jobId) => workflow.status(jobId);
    }
    const providerTaskCount = providerKey
      ? async () => accountTaskCount(providerBaseUrl, await providerApiKey(providerKey, clientConfig))
      : undefined;
    const report = await audit({
      doc,
      tableName: table,
      graceMs: args.graceMs,
      capacity: args.capacity,
      executionStatus,
      providerTaskCount,
    });
    console.log(args.json ? JSON.stringify(report, null, 2) : renderAudit(report));
    process.exitCode = report.stragglers.some((s) => s.sweeper === 'no') ? 2 : 0;
  } finally {
    dynamo.destroy();
    sfn?.destroy();
    await stopLocal?.();
  }
}

/** The provider key as given, or read from its secret with the caller's credentials (never printed). */
async function providerApiKey(key: NonNullable<Args['providerKey']>, config: SecretsManagerClientConfig): Promise<string> {
  if ('apiKey' in key) return key.apiKey;
  const client = new SecretsManagerClient(config);
  try {
    return await secretString(client, key.secretId)();
  } finally {
    client.destroy();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
