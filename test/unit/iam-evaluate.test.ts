import { describe, expect, it } from 'vitest';
import { InvalidPolicyError, PolicyEvaluator } from '../../local/iam/evaluate';
import type { IdentityPolicy } from '../../local/iam/policies';

const jobs = 'arn:aws:dynamodb:us-east-1:000000000000:table/Jobs';
const machine = 'arn:aws:states:us-east-1:000000000000:stateMachine:Ghostless-jobs';
const policies: IdentityPolicy[] = [
  {
    name: 'Reads',
    document: {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:Query'], Resource: [jobs] },
        { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::media/inputs/*' },
        { Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::media/private/*' },
        { Effect: 'Allow', Action: ['states:SendTaskSuccess', 'states:SendTaskFailure'], Resource: machine },
      ],
    },
  },
  {
    name: 'Guardrail',
    document: {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Deny', Action: 's3:DeleteObject', Resource: 'arn:aws:s3:::media/private/*' }],
    },
  },
];
const caller = { principalArn: 'arn:aws:sts::000000000000:assumed-role/WorkerRole/worker', policies };

describe('PolicyEvaluator', () => {
  const evaluator = new PolicyEvaluator();
  const decide = (action: string, resource: string) => evaluator.evaluate(caller, { action, resource });

  it('allows what a statement grants', async () => {
    expect(await decide('dynamodb:GetItem', jobs)).toBe('Allowed');
  });

  it('denies implicitly what no statement grants', async () => {
    expect(await decide('dynamodb:PutItem', jobs)).toBe('ImplicitlyDenied');
    expect(await decide('dynamodb:GetItem', 'arn:aws:dynamodb:us-east-1:000000000000:table/Other')).toBe('ImplicitlyDenied');
  });

  it('denies explicitly what a Deny statement names, whatever the Allows say', async () => {
    expect(await decide('s3:PutObject', 'arn:aws:s3:::media/private/a')).toBe('Allowed');
    expect(await decide('s3:DeleteObject', 'arn:aws:s3:::media/private/a')).toBe('ExplicitlyDenied');
  });

  it('treats an index as its own resource: a table grant does not cover it', async () => {
    expect(await decide('dynamodb:Query', jobs)).toBe('Allowed');
    expect(await decide('dynamodb:Query', `${jobs}/index/byStatus`)).toBe('ImplicitlyDenied');
    const withIndexes = [
      { name: 'Indexes', document: { Statement: [{ Effect: 'Allow', Action: 'dynamodb:Query', Resource: `${jobs}/index/*` }] } },
    ];
    expect(
      await evaluator.evaluate({ ...caller, policies: withIndexes }, { action: 'dynamodb:Query', resource: `${jobs}/index/byStatus` }),
    ).toBe('Allowed');
  });

  it('matches a prefix wildcard only under its prefix', async () => {
    expect(await decide('s3:GetObject', 'arn:aws:s3:::media/inputs/job-1/image.png')).toBe('Allowed');
    expect(await decide('s3:GetObject', 'arn:aws:s3:::media/outputs/job-1/image.png')).toBe('ImplicitlyDenied');
    expect(await decide('s3:GetObject', 'arn:aws:s3:::media/inputs')).toBe('ImplicitlyDenied');
  });

  it('authorizes task responses against the issuing state machine', async () => {
    expect(await decide('states:SendTaskSuccess', machine)).toBe('Allowed');
    expect(await decide('states:SendTaskHeartbeat', machine)).toBe('ImplicitlyDenied');
    expect(await decide('states:SendTaskSuccess', 'arn:aws:states:us-east-1:000000000000:stateMachine:Other')).toBe('ImplicitlyDenied');
  });

  it('gives the same answer from its cache', async () => {
    const first = await decide('s3:GetObject', 'arn:aws:s3:::media/inputs/cached');
    expect(await decide('s3:GetObject', 'arn:aws:s3:::media/inputs/cached')).toBe(first);
  });

  it('refuses an invalid policy by name', async () => {
    const broken = [{ name: 'Broken', document: { Statement: [{ Effect: 'Maybe', Action: 's3:GetObject', Resource: '*' }] } }];
    await expect(
      evaluator.evaluate({ ...caller, policies: broken }, { action: 's3:GetObject', resource: 'arn:aws:s3:::b/k' }),
    ).rejects.toThrow(InvalidPolicyError);
  });
});
