import {
  CreateTableCommand,
  type CreateTableCommandInput,
  type DynamoDBClient,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { BucketAlreadyOwnedByYou, CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { TABLE_SCHEMA } from '../lambdas/adapters/table-schema';

/** Creates the table exactly as the CDK Storage construct declares it (same TABLE_SCHEMA); no-op if it exists. */
export async function ensureTable(dynamo: DynamoDBClient, tableName: string) {
  const { partitionKey, sortKey, byUserIndex, liveIndex, ttlAttribute } = TABLE_SCHEMA;
  const index = ({ name, partitionKey, sortKey }: { name: string; partitionKey: string; sortKey: string }) => ({
    IndexName: name,
    KeySchema: [
      { AttributeName: partitionKey, KeyType: 'HASH' as const },
      { AttributeName: sortKey, KeyType: 'RANGE' as const },
    ],
    Projection: { ProjectionType: 'ALL' as const },
  });
  try {
    await dynamo.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          partitionKey,
          sortKey,
          byUserIndex.partitionKey,
          byUserIndex.sortKey,
          liveIndex.partitionKey,
          liveIndex.sortKey,
        ].map((name) => ({
          AttributeName: name,
          AttributeType: 'S',
        })),
        KeySchema: [
          { AttributeName: partitionKey, KeyType: 'HASH' },
          { AttributeName: sortKey, KeyType: 'RANGE' },
        ],
        GlobalSecondaryIndexes: [index(byUserIndex), index(liveIndex)],
      }),
    );
    await dynamo.send(
      new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: ttlAttribute, Enabled: true } }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
}

export async function ensureBucket(s3: S3Client, bucket: string) {
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    if (!(error instanceof BucketAlreadyOwnedByYou) && (error as Error).name !== 'BucketAlreadyExists') throw error;
  }
}

/** Creates a table from the template's own definition (keys, indexes, TTL); no-op if it exists. */
export async function ensureTableFromTemplate(dynamo: DynamoDBClient, input: CreateTableCommandInput, ttlAttribute?: string) {
  try {
    await dynamo.send(new CreateTableCommand(input));
    if (ttlAttribute) {
      await dynamo.send(
        new UpdateTimeToLiveCommand({
          TableName: input.TableName,
          TimeToLiveSpecification: { AttributeName: ttlAttribute, Enabled: true },
        }),
      );
    }
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
}
