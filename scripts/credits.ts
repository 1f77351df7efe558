/**
 * `npm run credits -- <command>` — the operator's credits tool, against the deployed table.
 *
 *   grant <user> <n> --reason "…"   adds n credits to the user (a Cognito `sub`), booked as an `operator` ledger entry
 *                                   in the same transaction as the balance change
 *   show <user> [--limit N]         the user's balance and newest ledger entries
 *
 * Which table:
 *   --table NAME                    this table (also TABLE_NAME)
 *   otherwise                       the `TableName` output of the CloudFormation stack --stack NAME (default Ghostless),
 *                                   in the usual AWS environment (AWS_PROFILE, AWS_REGION, …)
 * AWS_ENDPOINT_URL_DYNAMODB points it at any DynamoDB endpoint (the local stack's DynamoDB Local; tests), where
 * the table defaults to the local stack's `ghostless-jobs`. `--json` prints the result as JSON.
 */
import { pathToFileURL } from 'node:url';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoStore } from '../lambdas/adapters/dynamo-store';
import { credits } from '../lambdas/domain/credits';
import { DomainError } from '../lambdas/domain/errors';
import { deployedStack } from './deployed-stack';

const USAGE =
  'usage: npm run credits -- grant <user> <n> --reason "…" [--table NAME | --stack NAME] [--json]\n' +
  '       npm run credits -- show <user> [--limit N] [--table NAME | --stack NAME] [--json]';
const LOCAL_TABLE = 'ghostless-jobs';

class UsageError extends Error {}

interface Args {
  command: 'grant' | 'show';
  userId: string;
  amount: number;
  reason: string;
  limit: number;
  table: string | undefined;
  stack: string;
  json: boolean;
}

export function parseArgs(argv: string[], env: NodeJS.ProcessEnv): Args {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (name === 'json') flags.json = true;
    else if (['reason', 'table', 'stack', 'limit'].includes(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      flags[name] = value;
    } else throw new UsageError(`unknown option --${name}`);
  }
  const [command, userId, amount, ...extra] = positional;
  if (command !== 'grant' && command !== 'show') throw new UsageError(command ? `unknown command "${command}"` : 'no command');
  if (!userId) throw new UsageError('no user id');
  if (command === 'grant' && (amount === undefined || !/^\d+$/.test(amount))) throw new UsageError('n must be a whole number of credits');
  if (command === 'grant' && typeof flags.reason !== 'string')
    throw new UsageError('--reason "…" is required: it is written to the ledger');
  if (extra.length > 0 || (command === 'show' && amount !== undefined))
    throw new UsageError(`unexpected "${[amount, ...extra].join(' ')}"`);
  const limit = flags.limit === undefined ? 10 : Number(flags.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new UsageError('--limit is a whole number from 1 to 100');
  return {
    command,
    userId,
    amount: Number(amount ?? 0),
    reason: typeof flags.reason === 'string' ? flags.reason : '',
    limit,
    table: typeof flags.table === 'string' ? flags.table : env.TABLE_NAME || undefined,
    stack: typeof flags.stack === 'string' ? flags.stack : 'Ghostless',
    json: flags.json === true,
  };
}

/** The deployed table's name, from the stack's `TableName` output. */
async function tableFromStack(stackName: string) {
  const output = (await deployedStack(stackName)).output('TableName');
  if (!output) throw new Error(`Stack ${stackName} has no TableName output: pass --table NAME`);
  return output;
}

async function main() {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const args = parseArgs(process.argv.slice(2), process.env);
  const endpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB;
  const table = args.table ?? (endpoint ? LOCAL_TABLE : await tableFromStack(args.stack));
  const dynamo = new DynamoDBClient({ maxAttempts: 8 });
  try {
    // Retention only matters for job records, which this tool never writes.
    const store = new DynamoStore(DynamoDBDocumentClient.from(dynamo), table, 30);
    const service = credits(store, 0);
    if (args.command === 'grant') {
      const result = await service.operatorGrant(args.userId, args.amount, args.reason);
      console.log(
        args.json
          ? JSON.stringify({ table, ...result })
          : `Granted ${result.granted} credit(s) to ${result.userId} in ${table}: balance ${result.balance}.`,
      );
    } else {
      const [balance, page] = await Promise.all([store.balance(args.userId), store.ledger(args.userId, args.limit)]);
      if (args.json) console.log(JSON.stringify({ table, userId: args.userId, balance, entries: page.entries }));
      else {
        console.log(`${args.userId} in ${table}: balance ${balance}`);
        for (const e of page.entries) {
          const delta = e.delta > 0 ? `+${e.delta}` : String(e.delta);
          console.log(
            `  ${e.at}  ${delta.padStart(6)}  → ${String(e.balance).padStart(6)}  ${e.reason}${e.jobId ? ` ${e.jobId}` : ''}${e.note ? ` “${e.note}”` : ''}`,
          );
        }
      }
    }
  } finally {
    dynamo.destroy();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error) => {
    if (error instanceof UsageError) console.error(`${error.message}\n${USAGE}`);
    else if (error instanceof DomainError) console.error(error.message);
    else console.error(error instanceof Error ? error.message : error);
    process.exitCode = error instanceof UsageError || error instanceof DomainError ? 2 : 1;
  });
}
