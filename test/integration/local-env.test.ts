import { randomUUID } from 'node:crypto';
import { CreateTableCommand, DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, DeleteBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, inject, it } from 'vitest';

describe('the shared test emulators', () => {
  it('exposes their endpoints to test workers through the environment', () => {
    expect(process.env.AWS_ENDPOINT_URL_DYNAMODB).toBe(inject('dynamodbEndpoint'));
    expect(process.env.AWS_ENDPOINT_URL_S3).toBe(inject('s3Endpoint'));
    expect(process.env.AWS_REGION).toBe('us-east-1');
  });

  it('lets an SDK client with no explicit endpoint reach DynamoDB Local', async () => {
    const client = new DynamoDBClient({});
    const TableName = `env-${randomUUID()}`;
    const created = await client.send(
      new CreateTableCommand({
        TableName,
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    expect(created.TableDescription?.TableName).toBe(TableName);
    await client.send(new DeleteTableCommand({ TableName }));
    client.destroy();
  });

  it('lets a path-style SDK client with no explicit endpoint reach s3rver', async () => {
    const client = new S3Client({ forcePathStyle: true });
    const Bucket = `env-${randomUUID()}`;
    await client.send(new CreateBucketCommand({ Bucket }));
    await client.send(new DeleteBucketCommand({ Bucket }));
    client.destroy();
  });
});
