import { Readable } from 'node:stream';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import {
  accessDeniedMessage,
  accessDeniedResponse,
  badSignatureResponse,
  type ErrorResponse,
  unknownAccessKeyResponse,
} from '../../local/iam/access-denied';

const principal = 'arn:aws:sts::000000000000:assumed-role/WorkerRole/worker';

/** Client options that answer every request with `response`, so the real SDK deserializer parses it. */
const answering = (response: ErrorResponse) => ({
  region: 'us-east-1',
  endpoint: 'http://127.0.0.1:1',
  credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
  maxAttempts: 1,
  requestHandler: {
    handle: async () => ({
      response: { statusCode: response.status, headers: response.headers, body: Readable.from([Buffer.from(response.body)]) },
    }),
  },
});

describe('accessDeniedMessage', () => {
  it('words an implicit denial as AWS does', () => {
    expect(
      accessDeniedMessage(
        'dynamodb',
        principal,
        { action: 'dynamodb:PutItem', resource: 'arn:aws:dynamodb:us-east-1:000000000000:table/Jobs' },
        'ImplicitlyDenied',
      ),
    ).toBe(
      `User: ${principal} is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:000000000000:table/Jobs because no identity-based policy allows the dynamodb:PutItem action`,
    );
  });

  it('quotes the resource for S3 and names an explicit deny', () => {
    expect(accessDeniedMessage('s3', principal, { action: 's3:GetObject', resource: 'arn:aws:s3:::media/k' }, 'ExplicitlyDenied')).toBe(
      `User: ${principal} is not authorized to perform: s3:GetObject on resource: "arn:aws:s3:::media/k" with an explicit deny in an identity-based policy`,
    );
  });

  it('names no resource for a wildcard-only check', () => {
    expect(accessDeniedMessage('sfn', principal, { action: 'states:SendTaskSuccess', resource: '*' }, 'ImplicitlyDenied')).toBe(
      `User: ${principal} is not authorized to perform: states:SendTaskSuccess because no identity-based policy allows the states:SendTaskSuccess action`,
    );
  });
});

describe('accessDeniedResponse parsed by the real SDK clients', () => {
  it('makes DynamoDB throw AccessDeniedException with the message', async () => {
    const check = { action: 'dynamodb:GetItem', resource: 'arn:aws:dynamodb:us-east-1:000000000000:table/Jobs' };
    const client = new DynamoDBClient(answering(accessDeniedResponse('dynamodb', principal, check, 'ImplicitlyDenied')));
    const error = await client.send(new GetItemCommand({ TableName: 'Jobs', Key: { pk: { S: 'a' } } })).catch((e: Error) => e);
    expect(error).toMatchObject({
      name: 'AccessDeniedException',
      message: accessDeniedMessage('dynamodb', principal, check, 'ImplicitlyDenied'),
    });
    expect((error as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(400);
  });

  it('makes S3 throw AccessDenied with the message and a 403', async () => {
    const check = { action: 's3:PutObject', resource: 'arn:aws:s3:::media/outputs/x' };
    const client = new S3Client({ ...answering(accessDeniedResponse('s3', principal, check, 'ImplicitlyDenied')), forcePathStyle: true });
    const error = await client.send(new PutObjectCommand({ Bucket: 'media', Key: 'outputs/x', Body: 'x' })).catch((e: Error) => e);
    expect(error).toMatchObject({ name: 'AccessDenied', message: accessDeniedMessage('s3', principal, check, 'ImplicitlyDenied') });
    expect((error as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(403);
  });

  it('makes Step Functions throw AccessDeniedException with the message', async () => {
    const check = { action: 'states:SendTaskSuccess', resource: 'arn:aws:states:us-east-1:000000000000:stateMachine:M' };
    const client = new SFNClient(answering(accessDeniedResponse('sfn', principal, check, 'ImplicitlyDenied')));
    const error = await client.send(new SendTaskSuccessCommand({ taskToken: 't', output: '{}' })).catch((e: Error) => e);
    expect(error).toMatchObject({
      name: 'AccessDeniedException',
      message: accessDeniedMessage('sfn', principal, check, 'ImplicitlyDenied'),
    });
  });

  it('makes Secrets Manager throw AccessDeniedException with the message', async () => {
    const check = { action: 'secretsmanager:GetSecretValue', resource: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:k' };
    const client = new SecretsManagerClient(answering(accessDeniedResponse('secretsmanager', principal, check, 'ExplicitlyDenied')));
    const error = await client.send(new GetSecretValueCommand({ SecretId: 'k' })).catch((e: Error) => e);
    expect(error).toMatchObject({
      name: 'AccessDeniedException',
      message: accessDeniedMessage('secretsmanager', principal, check, 'ExplicitlyDenied'),
    });
  });
});

describe('authentication errors parsed by the real SDK clients', () => {
  it('names an unknown key UnrecognizedClientException for DynamoDB and InvalidAccessKeyId for S3', async () => {
    const dynamodb = new DynamoDBClient(answering(unknownAccessKeyResponse('dynamodb', 'AKIDNOPE')));
    await expect(dynamodb.send(new GetItemCommand({ TableName: 'T', Key: { pk: { S: 'a' } } }))).rejects.toMatchObject({
      name: 'UnrecognizedClientException',
    });
    const s3 = new S3Client({ ...answering(unknownAccessKeyResponse('s3', 'AKIDNOPE')), forcePathStyle: true });
    await expect(s3.send(new GetObjectCommand({ Bucket: 'b', Key: 'k' }))).rejects.toMatchObject({ name: 'InvalidAccessKeyId' });
  });

  it('names a bad signature InvalidSignatureException for DynamoDB and SignatureDoesNotMatch for S3', async () => {
    const dynamodb = new DynamoDBClient(answering(badSignatureResponse('dynamodb')));
    await expect(dynamodb.send(new GetItemCommand({ TableName: 'T', Key: { pk: { S: 'a' } } }))).rejects.toMatchObject({
      name: 'InvalidSignatureException',
    });
    const s3 = new S3Client({ ...answering(badSignatureResponse('s3')), forcePathStyle: true });
    await expect(s3.send(new GetObjectCommand({ Bucket: 'b', Key: 'k' }))).rejects.toMatchObject({ name: 'SignatureDoesNotMatch' });
  });
});
