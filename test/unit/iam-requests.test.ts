import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ExecuteStatementCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  TransactGetItemsCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
  UpdateStateMachineCommand,
} from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { describeRequest, MalformedRequestError, UnsupportedOperationError } from '../../local/iam/requests';
import { requestCapture } from '../support/sdk-capture';

const { config, capture } = requestCapture();
const dynamodb = new DynamoDBClient(config);
const s3 = new S3Client({ ...config, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' });
const sfn = new SFNClient(config);
const secrets = new SecretsManagerClient(config);

const table = (name: string) => `arn:aws:dynamodb:us-east-1:000000000000:table/${name}`;
const key = { pk: { S: 'a' } };
const machine = 'arn:aws:states:us-east-1:000000000000:stateMachine:Ghostless-jobs';
const execution = 'arn:aws:states:us-east-1:000000000000:execution:Ghostless-jobs:run-1';

describe('describeRequest for DynamoDB', () => {
  const checks = async (command: unknown) => describeRequest(await capture('dynamodb', dynamodb, command));

  it('checks single-item operations on their table', async () => {
    expect(await checks(new GetItemCommand({ TableName: 'Jobs', Key: key }))).toEqual([
      { action: 'dynamodb:GetItem', resource: table('Jobs') },
    ]);
    expect(await checks(new PutItemCommand({ TableName: 'Jobs', Item: key }))).toEqual([
      { action: 'dynamodb:PutItem', resource: table('Jobs') },
    ]);
    expect(
      await checks(
        new UpdateItemCommand({
          TableName: 'Jobs',
          Key: key,
          UpdateExpression: 'SET a = :a',
          ExpressionAttributeValues: { ':a': { N: '1' } },
        }),
      ),
    ).toEqual([{ action: 'dynamodb:UpdateItem', resource: table('Jobs') }]);
    expect(await checks(new DeleteItemCommand({ TableName: 'Jobs', Key: key }))).toEqual([
      { action: 'dynamodb:DeleteItem', resource: table('Jobs') },
    ]);
  });

  it('checks a query on an index against the index ARN', async () => {
    const query = { KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': { S: 'a' } } };
    expect(await checks(new QueryCommand({ TableName: 'Jobs', IndexName: 'byStatus', ...query }))).toEqual([
      { action: 'dynamodb:Query', resource: `${table('Jobs')}/index/byStatus` },
    ]);
    expect(await checks(new QueryCommand({ TableName: 'Jobs', ...query }))).toEqual([
      { action: 'dynamodb:Query', resource: table('Jobs') },
    ]);
    expect(await checks(new ScanCommand({ TableName: 'Jobs' }))).toEqual([{ action: 'dynamodb:Scan', resource: table('Jobs') }]);
  });

  it('checks batches once per table with the batch action', async () => {
    expect(await checks(new BatchGetItemCommand({ RequestItems: { A: { Keys: [key] }, B: { Keys: [key] } } }))).toEqual([
      { action: 'dynamodb:BatchGetItem', resource: table('A') },
      { action: 'dynamodb:BatchGetItem', resource: table('B') },
    ]);
    const write = new BatchWriteItemCommand({
      RequestItems: { A: [{ PutRequest: { Item: key } }, { DeleteRequest: { Key: key } }], B: [{ DeleteRequest: { Key: key } }] },
    });
    expect(await checks(write)).toEqual([
      { action: 'dynamodb:BatchWriteItem', resource: table('A') },
      { action: 'dynamodb:BatchWriteItem', resource: table('B') },
    ]);
  });

  it('checks every transaction member with its own action and table', async () => {
    const write = new TransactWriteItemsCommand({
      TransactItems: [
        { ConditionCheck: { TableName: 'Slots', Key: key, ConditionExpression: 'attribute_exists(pk)' } },
        { Put: { TableName: 'Jobs', Item: key } },
        { Update: { TableName: 'Jobs', Key: key, UpdateExpression: 'SET a = :a', ExpressionAttributeValues: { ':a': { N: '1' } } } },
        { Delete: { TableName: 'Queue', Key: key } },
      ],
    });
    expect(await checks(write)).toEqual([
      { action: 'dynamodb:ConditionCheckItem', resource: table('Slots') },
      { action: 'dynamodb:PutItem', resource: table('Jobs') },
      { action: 'dynamodb:UpdateItem', resource: table('Jobs') },
      { action: 'dynamodb:DeleteItem', resource: table('Queue') },
    ]);
    expect(
      await checks(
        new TransactGetItemsCommand({ TransactItems: [{ Get: { TableName: 'A', Key: key } }, { Get: { TableName: 'B', Key: key } }] }),
      ),
    ).toEqual([
      { action: 'dynamodb:GetItem', resource: table('A') },
      { action: 'dynamodb:GetItem', resource: table('B') },
    ]);
  });

  it('checks table management on the table', async () => {
    expect(await checks(new DescribeTableCommand({ TableName: 'Jobs' }))).toEqual([
      { action: 'dynamodb:DescribeTable', resource: table('Jobs') },
    ]);
    const create = new CreateTableCommand({
      TableName: 'Jobs',
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    });
    expect(await checks(create)).toEqual([{ action: 'dynamodb:CreateTable', resource: table('Jobs') }]);
    const ttl = new UpdateTimeToLiveCommand({ TableName: 'Jobs', TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true } });
    expect(await checks(ttl)).toEqual([{ action: 'dynamodb:UpdateTimeToLive', resource: table('Jobs') }]);
  });

  it('refuses an operation it cannot authorize instead of guessing', async () => {
    await expect(checks(new ExecuteStatementCommand({ Statement: 'SELECT * FROM Jobs' }))).rejects.toThrow(UnsupportedOperationError);
  });

  it('uses the region and account it is given', async () => {
    const request = await capture('dynamodb', dynamodb, new GetItemCommand({ TableName: 'Jobs', Key: key }));
    expect(describeRequest(request, { region: 'eu-west-1', account: '123456789012' })).toEqual([
      { action: 'dynamodb:GetItem', resource: 'arn:aws:dynamodb:eu-west-1:123456789012:table/Jobs' },
    ]);
  });

  it('rejects a request without a DynamoDB target', () => {
    expect(() => describeRequest({ service: 'dynamodb', method: 'POST', path: '/', query: '', headers: {}, body: '{}' })).toThrow(
      MalformedRequestError,
    );
  });
});

describe('describeRequest for S3', () => {
  const checks = async (command: unknown) => describeRequest(await capture('s3', s3, command));
  const object = (k: string) => `arn:aws:s3:::media/${k}`;

  it('checks reads and heads of an object as s3:GetObject on the decoded key', async () => {
    expect(await checks(new GetObjectCommand({ Bucket: 'media', Key: 'inputs/a b+ü.png' }))).toEqual([
      { action: 's3:GetObject', resource: object('inputs/a b+ü.png') },
    ]);
    expect(await checks(new HeadObjectCommand({ Bucket: 'media', Key: 'inputs/x' }))).toEqual([
      { action: 's3:GetObject', resource: object('inputs/x') },
    ]);
  });

  it('checks writes, copies and deletes', async () => {
    expect(await checks(new PutObjectCommand({ Bucket: 'media', Key: 'outputs/x', Body: 'hi' }))).toEqual([
      { action: 's3:PutObject', resource: object('outputs/x') },
    ]);
    expect(await checks(new CopyObjectCommand({ Bucket: 'media', Key: 'outputs/y', CopySource: 'other/inputs/a b' }))).toEqual([
      { action: 's3:GetObject', resource: 'arn:aws:s3:::other/inputs/a b' },
      { action: 's3:PutObject', resource: object('outputs/y') },
    ]);
    expect(await checks(new DeleteObjectCommand({ Bucket: 'media', Key: 'outputs/x' }))).toEqual([
      { action: 's3:DeleteObject', resource: object('outputs/x') },
    ]);
    expect(await checks(new PutObjectCommand({ Bucket: 'media', Key: 'outputs/t', Body: 'hi', Tagging: 'a=b' }))).toEqual([
      { action: 's3:PutObject', resource: object('outputs/t') },
      { action: 's3:PutObjectTagging', resource: object('outputs/t') },
    ]);
  });

  it('checks every multipart step with the action S3 documents for it', async () => {
    const upload = { Bucket: 'media', Key: 'outputs/big', UploadId: 'u1' };
    expect(await checks(new CreateMultipartUploadCommand({ Bucket: 'media', Key: 'outputs/big' }))).toEqual([
      { action: 's3:PutObject', resource: object('outputs/big') },
    ]);
    expect(await checks(new UploadPartCommand({ ...upload, PartNumber: 1, Body: 'x' }))).toEqual([
      { action: 's3:PutObject', resource: object('outputs/big') },
    ]);
    expect(
      await checks(new CompleteMultipartUploadCommand({ ...upload, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"e"' }] } })),
    ).toEqual([{ action: 's3:PutObject', resource: object('outputs/big') }]);
    expect(await checks(new AbortMultipartUploadCommand(upload))).toEqual([
      { action: 's3:AbortMultipartUpload', resource: object('outputs/big') },
    ]);
    expect(await checks(new ListPartsCommand(upload))).toEqual([
      { action: 's3:ListMultipartUploadParts', resource: object('outputs/big') },
    ]);
  });

  it('checks bucket operations on the bucket ARN', async () => {
    expect(await checks(new ListObjectsV2Command({ Bucket: 'media', Prefix: 'inputs/' }))).toEqual([
      { action: 's3:ListBucket', resource: 'arn:aws:s3:::media' },
    ]);
    expect(await checks(new HeadBucketCommand({ Bucket: 'media' }))).toEqual([{ action: 's3:ListBucket', resource: 'arn:aws:s3:::media' }]);
    expect(await checks(new CreateBucketCommand({ Bucket: 'media' }))).toEqual([
      { action: 's3:CreateBucket', resource: 'arn:aws:s3:::media' },
    ]);
  });

  it('refuses a bucket sub-resource it does not know', async () => {
    await expect(checks(new PutBucketPolicyCommand({ Bucket: 'media', Policy: '{}' }))).rejects.toThrow(UnsupportedOperationError);
  });
});

describe('describeRequest for Step Functions', () => {
  const checks = async (command: unknown, taskTokenOwner?: (token: string) => string | undefined) =>
    describeRequest(await capture('sfn', sfn, command), { taskTokenOwner });

  it('checks executions against the state machine or execution ARN', async () => {
    expect(await checks(new StartExecutionCommand({ stateMachineArn: machine, input: '{}' }))).toEqual([
      { action: 'states:StartExecution', resource: machine },
    ]);
    expect(await checks(new DescribeExecutionCommand({ executionArn: execution }))).toEqual([
      { action: 'states:DescribeExecution', resource: execution },
    ]);
    expect(await checks(new StopExecutionCommand({ executionArn: execution }))).toEqual([
      { action: 'states:StopExecution', resource: execution },
    ]);
    expect(await checks(new ListExecutionsCommand({ stateMachineArn: machine }))).toEqual([
      { action: 'states:ListExecutions', resource: machine },
    ]);
  });

  it('checks task responses against the state machine that issued the token', async () => {
    const owner = (token: string) => (token === 'tok-1' ? machine : undefined);
    expect(await checks(new SendTaskSuccessCommand({ taskToken: 'tok-1', output: '{}' }), owner)).toEqual([
      { action: 'states:SendTaskSuccess', resource: machine },
    ]);
    expect(await checks(new SendTaskFailureCommand({ taskToken: 'tok-1' }), owner)).toEqual([
      { action: 'states:SendTaskFailure', resource: machine },
    ]);
    expect(await checks(new SendTaskHeartbeatCommand({ taskToken: 'tok-1' }), owner)).toEqual([
      { action: 'states:SendTaskHeartbeat', resource: machine },
    ]);
  });

  it('checks a task response with an unknown token against "*"', async () => {
    expect(await checks(new SendTaskSuccessCommand({ taskToken: 'unknown', output: '{}' }))).toEqual([
      { action: 'states:SendTaskSuccess', resource: '*' },
    ]);
  });

  it('refuses an operation it cannot authorize', async () => {
    await expect(checks(new UpdateStateMachineCommand({ stateMachineArn: machine }))).rejects.toThrow(UnsupportedOperationError);
  });
});

describe('describeRequest for Secrets Manager and SQS', () => {
  it('checks GetSecretValue on the secret ARN, building it from a name', async () => {
    const byName = await capture('secretsmanager', secrets, new GetSecretValueCommand({ SecretId: 'runninghub/api-key' }));
    expect(describeRequest(byName)).toEqual([
      { action: 'secretsmanager:GetSecretValue', resource: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:runninghub/api-key' },
    ]);
    const arn = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:runninghub/api-key-AbCdEf';
    expect(describeRequest(await capture('secretsmanager', secrets, new GetSecretValueCommand({ SecretId: arn })))).toEqual([
      { action: 'secretsmanager:GetSecretValue', resource: arn },
    ]);
  });

  it('checks SendMessage on the queue ARN taken from the queue URL', () => {
    const request = (QueueUrl: string) => ({
      service: 'sqs' as const,
      method: 'POST',
      path: '/',
      query: '',
      headers: { 'x-amz-target': 'AmazonSQS.SendMessage' },
      body: JSON.stringify({ QueueUrl, MessageBody: 'x' }),
    });
    expect(describeRequest(request('https://sqs.eu-west-1.amazonaws.com/123456789012/jobs-dlq'))).toEqual([
      { action: 'sqs:SendMessage', resource: 'arn:aws:sqs:eu-west-1:123456789012:jobs-dlq' },
    ]);
    expect(describeRequest(request('http://127.0.0.1:9324/000000000000/jobs'))).toEqual([
      { action: 'sqs:SendMessage', resource: 'arn:aws:sqs:us-east-1:000000000000:jobs' },
    ]);
  });
});
