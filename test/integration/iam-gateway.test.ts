import { createHash, randomUUID } from 'node:crypto';
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  CopyObjectCommand,
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3RVER_CREDENTIALS } from '../../local/emulators/s3';
import { assumedRolePrincipal } from '../../local/iam/environment';
import { type AwsGateway, type DecisionRecord, type GatewayIdentity, startAwsGateway } from '../../local/iam/gateway';

const region = 'us-east-1';
const table = `iam-${randomUUID()}`;
const otherTable = `iam-other-${randomUUID()}`;
const bucket = `iam-${randomUUID()}`;
const tableArn = (name: string) => `arn:aws:dynamodb:${region}:000000000000:table/${name}`;

const worker: GatewayIdentity = {
  principalArn: assumedRolePrincipal('WorkerRole', 'worker'),
  functionName: 'worker',
  secretAccessKey: 'worker-secret',
  policies: [
    {
      name: 'WorkerPolicy',
      document: {
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: tableArn(table) },
          { Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/inputs/*` },
          { Effect: 'Allow', Action: 's3:PutObject', Resource: `arn:aws:s3:::${bucket}/outputs/*` },
        ],
      },
    },
  ],
};
const identities: Record<string, GatewayIdentity> = { AKIDWORKER: worker };

let gateway: AwsGateway;
const decisions: DecisionRecord[] = [];
let direct: { dynamodb: DynamoDBClient; s3: S3Client };
let asWorker: { dynamodb: DynamoDBClient; s3: S3Client };

const s3Options = { region, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' } as const;
function clients(credentials: { accessKeyId: string; secretAccessKey: string }) {
  return {
    dynamodb: new DynamoDBClient({ region, credentials, endpoint: gateway.endpoints.dynamodb, maxAttempts: 1 }),
    s3: new S3Client({ ...s3Options, credentials, endpoint: gateway.endpoints.s3, maxAttempts: 1 }),
  };
}

beforeAll(async () => {
  const dynamodbEndpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB as string;
  const s3Endpoint = process.env.AWS_ENDPOINT_URL_S3 as string;
  direct = {
    dynamodb: new DynamoDBClient({ region, endpoint: dynamodbEndpoint, credentials: S3RVER_CREDENTIALS }),
    s3: new S3Client({ ...s3Options, endpoint: s3Endpoint, credentials: S3RVER_CREDENTIALS }),
  };
  for (const name of [table, otherTable]) {
    await direct.dynamodb.send(
      new CreateTableCommand({
        TableName: name,
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  }
  await direct.dynamodb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'job-1' }, status: { S: 'queued' } } }));
  await direct.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await direct.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'inputs/photo 1.png', Body: 'input bytes' }));
  await direct.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'outputs/result.png', Body: 'output bytes' }));

  gateway = await startAwsGateway({
    upstreams: { dynamodb: dynamodbEndpoint, s3: s3Endpoint },
    identities: (accessKeyId) => identities[accessKeyId],
    // s3rver refuses access keys other than its own.
    upstreamCredentials: { s3: S3RVER_CREDENTIALS },
    onDecision: (record) => decisions.push(record),
  });
  asWorker = clients({ accessKeyId: 'AKIDWORKER', secretAccessKey: worker.secretAccessKey });
});

afterAll(async () => {
  await gateway?.stop();
  for (const set of [direct, asWorker]) {
    set?.dynamodb.destroy();
    set?.s3.destroy();
  }
});

describe('AWS gateway in front of DynamoDB Local', () => {
  it('forwards an allowed GetItem and returns the item', async () => {
    const { Item } = await asWorker.dynamodb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'job-1' } } }));
    expect(Item?.status?.S).toBe('queued');
    expect(decisions).toContainEqual(
      expect.objectContaining({ functionName: 'worker', action: 'dynamodb:GetItem', resource: tableArn(table), decision: 'Allowed' }),
    );
  });

  it('refuses a PutItem the role does not grant, with the message AWS writes', async () => {
    const error = await asWorker.dynamodb
      .send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'job-2' } } }))
      .catch((e: Error) => e);
    expect(error).toMatchObject({
      name: 'AccessDeniedException',
      message: `User: ${worker.principalArn} is not authorized to perform: dynamodb:PutItem on resource: ${tableArn(table)} because no identity-based policy allows the dynamodb:PutItem action`,
    });
    const { Item } = await direct.dynamodb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'job-2' } } }));
    expect(Item).toBeUndefined();
  });

  it('refuses a GetItem on another table', async () => {
    await expect(asWorker.dynamodb.send(new GetItemCommand({ TableName: otherTable, Key: { pk: { S: 'x' } } }))).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
  });

  it('refuses an unknown access key and a wrong secret as DynamoDB does', async () => {
    const stranger = clients({ accessKeyId: 'AKIDNOBODY', secretAccessKey: 'x' });
    await expect(stranger.dynamodb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'job-1' } } }))).rejects.toMatchObject({
      name: 'UnrecognizedClientException',
    });
    const forger = clients({ accessKeyId: 'AKIDWORKER', secretAccessKey: 'guessed' });
    await expect(forger.dynamodb.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'job-1' } } }))).rejects.toMatchObject({
      name: 'InvalidSignatureException',
    });
  });
});

describe('AWS gateway in front of s3rver', () => {
  it('forwards an allowed GetObject under inputs/', async () => {
    const { Body } = await asWorker.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'inputs/photo 1.png' }));
    expect(await Body?.transformToString()).toBe('input bytes');
    const head = await asWorker.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'inputs/photo 1.png' }));
    expect(head.ContentLength).toBe(11);
  });

  it('refuses a GetObject outside inputs/ with AccessDenied', async () => {
    const error = await asWorker.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'outputs/result.png' })).catch((e: Error) => e);
    expect(error).toMatchObject({
      name: 'AccessDenied',
      message: `User: ${worker.principalArn} is not authorized to perform: s3:GetObject on resource: "arn:aws:s3:::${bucket}/outputs/result.png" because no identity-based policy allows the s3:GetObject action`,
    });
  });

  it('refuses a HeadObject with a bodiless 403, as S3 answers HEAD', async () => {
    const error = await asWorker.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'outputs/result.png' })).catch((e: Error) => e);
    // The SDK names a bodiless error from its status alone, exactly as it does against S3.
    expect((error as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(403);
  });

  it('answers a read of a missing key with AccessDenied when the role cannot list the bucket, as S3 does', async () => {
    await expect(asWorker.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'inputs/missing.png' }))).rejects.toMatchObject({
      name: 'AccessDenied',
      message: expect.stringContaining('s3:ListBucket'),
    });
  });

  it('refuses a PutObject outside the granted prefix and stores nothing', async () => {
    await expect(asWorker.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'inputs/new.png', Body: 'x' }))).rejects.toMatchObject({
      name: 'AccessDenied',
    });
    await expect(direct.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'inputs/new.png' }))).rejects.toMatchObject({
      name: 'NotFound',
    });
  });

  it('streams a large allowed upload and download through unchanged', async () => {
    const body = Buffer.alloc(64 * 1024 * 1024, 3);
    const digest = createHash('sha256').update(body).digest('hex');
    await asWorker.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'outputs/big.bin', Body: body }));
    // The worker may read only inputs/: put the same bytes there, behind its back.
    await direct.s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'inputs/big.bin', CopySource: `${bucket}/outputs/big.bin` }));
    const { Body } = await asWorker.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'inputs/big.bin' }));
    const hash = createHash('sha256');
    for await (const chunk of Body as AsyncIterable<Buffer>) hash.update(chunk);
    expect(hash.digest('hex')).toBe(digest);
  }, 60_000);

  it('accepts a presigned GET made with the function credentials', async () => {
    const url = await getSignedUrl(asWorker.s3, new GetObjectCommand({ Bucket: bucket, Key: 'inputs/photo 1.png' }), { expiresIn: 60 });
    const response = await fetch(url);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('input bytes');
    const denied = await fetch(
      await getSignedUrl(asWorker.s3, new GetObjectCommand({ Bucket: bucket, Key: 'outputs/result.png' }), { expiresIn: 60 }),
    );
    expect(denied.status).toBe(403);
    expect(await denied.text()).toContain('<Code>AccessDenied</Code>');
  });

  it('refuses an unknown access key and a wrong secret as S3 does', async () => {
    const stranger = clients({ accessKeyId: 'AKIDNOBODY', secretAccessKey: 'x' });
    await expect(stranger.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'inputs/photo 1.png' }))).rejects.toMatchObject({
      name: 'InvalidAccessKeyId',
    });
    const forger = clients({ accessKeyId: 'AKIDWORKER', secretAccessKey: 'guessed' });
    await expect(forger.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'inputs/photo 1.png' }))).rejects.toMatchObject({
      name: 'SignatureDoesNotMatch',
    });
  });

  it('passes CORS preflights through unauthenticated, as S3 answers them from the bucket rules', async () => {
    const preflight = (base: string) =>
      fetch(`${base}/${bucket}/inputs/photo%201.png`, {
        method: 'OPTIONS',
        headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'PUT' },
      });
    const [viaGateway, straight] = await Promise.all([
      preflight(gateway.endpoints.s3 as string),
      preflight(process.env.AWS_ENDPOINT_URL_S3 as string),
    ]);
    expect(viaGateway.status).toBe(straight.status);
    expect(await viaGateway.text()).not.toContain('AccessDenied');
  });

  it('refuses a POST-policy form upload loudly instead of guessing', async () => {
    const form = new FormData();
    form.set('key', 'inputs/form.png');
    form.set('file', new Blob(['x']), 'form.png');
    const response = await fetch(`${gateway.endpoints.s3}/${bucket}`, { method: 'POST', body: form });
    expect(response.status).toBe(501);
    expect(await response.text()).toContain('<Code>NotImplemented</Code>');
  });

  it('records every decision it makes', () => {
    expect(gateway.usage()).toEqual(decisions);
    expect(decisions.some((d) => d.action === 's3:GetObject' && d.decision === 'ImplicitlyDenied')).toBe(true);
  });
});
