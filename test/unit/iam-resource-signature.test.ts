import { describe, expect, it } from 'vitest';
import { PolicyEvaluator } from '../../local/iam/evaluate';
import type { IdentityPolicy } from '../../local/iam/policies';
import { resourceSignature } from '../../local/iam/resource-signature';

const policies: IdentityPolicy[] = [
  {
    name: 'Media',
    document: {
      Statement: [
        {
          Effect: 'Allow',
          Action: ['s3:GetObject', 's3:PutObject'],
          Resource: ['arn:aws:s3:::media/inputs/*', 'arn:aws:s3:::media/out?/*'],
        },
        { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::media/Admitted/*.png' },
        { Effect: 'Deny', Action: 's3:PutObject', Resource: 'arn:aws:s3:::media/inputs/locked/*' },
        { Effect: 'Allow', Action: 'dynamodb:Query', Resource: 'arn:aws:dynamodb:*:*:table/Jobs/index/*' },
        { Effect: 'Allow', Action: 'dynamodb:GetItem', NotResource: 'arn:aws:dynamodb:us-east-1:000000000000:table/Secret*' },
      ],
    },
  },
];
const caller = { principalArn: 'arn:aws:sts::000000000000:assumed-role/Role/fn', policies };

// Edge cases for the memo: prefixes, `?`, case, colons inside keys, deny carve-outs, NotResource, index ARNs.
const checks = [
  ...[
    'inputs/a.png',
    'inputs/b:c.png',
    'inputs/locked/x.png',
    'outs/a',
    'out/a',
    'outputs/a',
    'admitted/a.png',
    'Admitted/a.png',
    'Admitted/a.jpg',
    'INPUTS/a.png',
  ].flatMap((key) => ['s3:GetObject', 's3:PutObject'].map((action) => ({ action, resource: `arn:aws:s3:::media/${key}` }))),
  ...['table/Jobs/index/byUser', 'table/Jobs', 'table/jobs/index/byUser'].map((resource) => ({
    action: 'dynamodb:Query',
    resource: `arn:aws:dynamodb:us-east-1:000000000000:${resource}`,
  })),
  ...['table/Jobs', 'table/Secrets', 'table/secrets'].map((resource) => ({
    action: 'dynamodb:GetItem',
    resource: `arn:aws:dynamodb:us-east-1:000000000000:${resource}`,
  })),
];

describe('IAM decisions memoized per resource signature', () => {
  it('decide exactly as a full simulation of each resource does', async () => {
    const memoized = new PolicyEvaluator();
    for (const check of [...checks, ...checks]) {
      const full = await new PolicyEvaluator().evaluate(caller, check);
      expect({ ...check, decision: await memoized.evaluate(caller, check) }).toEqual({ ...check, decision: full });
    }
  });

  it('give keys under the same patterns one signature and keys under other patterns another', () => {
    const signature = resourceSignature(policies);
    expect(signature).toBeDefined();
    const of = (key: string) => signature?.(`arn:aws:s3:::media/${key}`);
    expect(of('inputs/1.png')).toBe(of('inputs/2.png'));
    expect(of('inputs/locked/1.png')).not.toBe(of('inputs/1.png'));
    expect(of('Admitted/1.png')).not.toBe(of('Admitted/1.jpg'));
  });

  it('are not used when a pattern holds a policy variable', () => {
    const perUser: IdentityPolicy = {
      name: 'PerUser',
      // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, not a template literal.
      document: { Statement: { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::media/${aws:username}/*' } },
    };
    expect(resourceSignature([...policies, perUser])).toBeUndefined();
  });
});
