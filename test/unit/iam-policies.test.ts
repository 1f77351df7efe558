import { describe, expect, it } from 'vitest';
import { functionRolePolicies, PolicyExtractionError, stateMachineRolePolicies } from '../../local/iam/policies';
import { templateResolver } from '../support/cfn-resolver';

const basicExecution = {
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::aws:policy/service-role/AWSLambdaBasicExecutionRole']],
};
const template = {
  Resources: {
    Jobs: { Type: 'AWS::DynamoDB::Table', Properties: { TableName: 'Jobs' } },
    Media: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'media' } },
    WorkerRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        RoleName: 'WorkerRole',
        ManagedPolicyArns: [basicExecution],
        Policies: [
          {
            PolicyName: 'Inline',
            // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string, not a template literal.
            PolicyDocument: { Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: { 'Fn::Sub': '${Media.Arn}/inputs/*' } }] },
          },
        ],
      },
    },
    WorkerRoleDefaultPolicy: {
      Type: 'AWS::IAM::Policy',
      Properties: {
        PolicyName: 'WorkerRoleDefaultPolicy',
        Roles: [{ Ref: 'WorkerRole' }],
        PolicyDocument: { Statement: [{ Effect: 'Allow', Action: ['dynamodb:GetItem'], Resource: [{ 'Fn::GetAtt': ['Jobs', 'Arn'] }] }] },
      },
    },
    OtherPolicy: {
      Type: 'AWS::IAM::Policy',
      Properties: {
        PolicyName: 'Other',
        Roles: [{ Ref: 'OtherRole' }],
        PolicyDocument: { Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
      },
    },
    OtherRole: { Type: 'AWS::IAM::Role', Properties: {} },
    Worker: { Type: 'AWS::Lambda::Function', Properties: { FunctionName: 'worker', Role: { 'Fn::GetAtt': ['WorkerRole', 'Arn'] } } },
    Machine: { Type: 'AWS::StepFunctions::StateMachine', Properties: { RoleArn: { 'Fn::GetAtt': ['OtherRole', 'Arn'] } } },
    Strange: { Type: 'AWS::Lambda::Function', Properties: { Role: { 'Fn::GetAtt': ['StrangeRole', 'Arn'] } } },
    StrangeRole: {
      Type: 'AWS::IAM::Role',
      Properties: { ManagedPolicyArns: ['arn:aws:iam::aws:policy/AdministratorAccess'] },
    },
    Imported: { Type: 'AWS::Lambda::Function', Properties: { Role: 'arn:aws:iam::000000000000:role/elsewhere' } },
  },
};
const resolve = templateResolver(template);

describe('functionRolePolicies', () => {
  it('collects inline, attached and AWS-managed policies of the function role, resolved', () => {
    const role = functionRolePolicies(template, 'Worker', resolve);
    expect(role).toMatchObject({
      roleLogicalId: 'WorkerRole',
      roleName: 'WorkerRole',
      roleArn: 'arn:aws:iam::000000000000:role/WorkerRole',
    });
    expect(role.policies).toEqual([
      { name: 'Inline', document: { Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::media/inputs/*' }] } },
      {
        name: 'WorkerRoleDefaultPolicy',
        document: {
          Statement: [{ Effect: 'Allow', Action: ['dynamodb:GetItem'], Resource: ['arn:aws:dynamodb:us-east-1:000000000000:table/Jobs'] }],
        },
      },
      {
        name: 'arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
        document: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents'], Resource: '*' }],
        },
      },
    ]);
  });

  it('refuses an AWS-managed policy it has no copy of, naming it', () => {
    expect(() => functionRolePolicies(template, 'Strange', resolve)).toThrow(/AdministratorAccess/);
  });

  it('refuses a role from outside the template', () => {
    expect(() => functionRolePolicies(template, 'Imported', resolve)).toThrow(PolicyExtractionError);
  });

  it('refuses a logical id that is not a function', () => {
    expect(() => functionRolePolicies(template, 'Jobs', resolve)).toThrow(/expected AWS::Lambda::Function/);
  });
});

describe('stateMachineRolePolicies', () => {
  it('collects the policies of the role in RoleArn', () => {
    const role = stateMachineRolePolicies(template, 'Machine', resolve);
    expect(role.roleLogicalId).toBe('OtherRole');
    expect(role.policies.map((p) => p.name)).toEqual(['OtherPolicy']);
  });
});
