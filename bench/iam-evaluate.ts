/**
 * How many IAM decisions per second the local gateway's evaluator makes (it runs on every SDK call).
 *
 *   npx tsx bench/iam-evaluate.ts
 *
 * "repeated" asks the same check again (the memo answers); "unique" asks a new S3 key each time: the memo answers per
 * resource signature (which of the role's patterns the key matches), except for a role whose patterns use a policy
 * variable, where every decision is a full @cloud-copilot/iam-simulate run. Prints figures only.
 */
import { loadavg } from 'node:os';
import { PolicyEvaluator } from '../local/iam/evaluate';
import type { IdentityPolicy } from '../local/iam/policies';

const table = 'arn:aws:dynamodb:us-east-1:000000000000:table/Ghostless-Jobs';
// Shaped like a Ghostless worker role: basic execution, table read/write with indexes, prefix-scoped S3, task responses.
const policies: IdentityPolicy[] = [
  {
    name: 'AWSLambdaBasicExecutionRole',
    document: {
      Statement: [{ Effect: 'Allow', Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'], Resource: '*' }],
    },
  },
  {
    name: 'WorkerRoleDefaultPolicy',
    document: {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:Scan', 'dynamodb:ConditionCheckItem'],
          Resource: [table, `${table}/index/*`],
        },
        {
          Effect: 'Allow',
          Action: ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem'],
          Resource: [table],
        },
        {
          Effect: 'Allow',
          Action: 's3:GetObject',
          Resource: ['arn:aws:s3:::ghostless-media/inputs/*', 'arn:aws:s3:::ghostless-media/outputs/*'],
        },
        { Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::ghostless-media' },
        { Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::ghostless-media/outputs/*' },
        {
          Effect: 'Allow',
          Action: ['states:SendTaskSuccess', 'states:SendTaskFailure'],
          Resource: 'arn:aws:states:us-east-1:000000000000:stateMachine:Ghostless-jobs',
        },
      ],
    },
  },
];
const caller = { principalArn: 'arn:aws:sts::000000000000:assumed-role/WorkerRole/worker', policies };

async function rate(
  label: string,
  check: (i: number) => { action: string; resource: string },
  evaluator: PolicyEvaluator,
  ms = 2000,
  who = caller,
) {
  for (let i = 0; i < 50; i++) await evaluator.evaluate(who, check(-i - 1)); // warm iam-data and the JIT
  const start = performance.now();
  let n = 0;
  while (performance.now() - start < ms) await evaluator.evaluate(who, check(n++));
  const perSecond = Math.round(n / ((performance.now() - start) / 1000));
  console.log(`${label.padEnd(44)} ${String(perSecond).padStart(9)} decisions/s  (${((1000 / perSecond) * 1000).toFixed(0)} µs each)`);
}

console.log(`node ${process.version}, load average ${loadavg()[0]?.toFixed(1)}`);
const evaluator = new PolicyEvaluator();
await rate('repeated dynamodb:GetItem (memo)', () => ({ action: 'dynamodb:GetItem', resource: table }), evaluator);
await rate(
  'unique s3:GetObject keys (signature memo)',
  (i) => ({ action: 's3:GetObject', resource: `arn:aws:s3:::ghostless-media/inputs/${i}.png` }),
  evaluator,
);
await rate(
  'unique denied s3:PutObject keys',
  (i) => ({ action: 's3:PutObject', resource: `arn:aws:s3:::ghostless-media/inputs/${i}.png` }),
  evaluator,
);

// A policy variable in any pattern turns the signature off: each new key is a full simulation.
const withVariable: IdentityPolicy[] = [
  ...policies,
  {
    name: 'PerUser',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, not a template literal.
    document: { Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::ghostless-media/home/${aws:username}/*' }] },
  },
];
await rate(
  'unique s3:GetObject keys (full simulation)',
  (i) => ({ action: 's3:GetObject', resource: `arn:aws:s3:::ghostless-media/inputs/${i}.png` }),
  new PolicyEvaluator(),
  2000,
  { ...caller, policies: withVariable },
);
