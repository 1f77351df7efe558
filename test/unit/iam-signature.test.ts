import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { describe, expect, it } from 'vitest';
import { readSigV4Claim, SignatureMismatchError, verifySigV4 } from '../../local/iam/signature';
import { requestCapture } from '../support/sdk-capture';

/** The request's SigV4 claim; these requests are all signed. */
function claimOf(request: Parameters<typeof readSigV4Claim>[0]) {
  const claim = readSigV4Claim(request);
  if (!claim) throw new Error('the request carries no SigV4 claim');
  return claim;
}

const { config, capture } = requestCapture();
const secret = config.credentials.secretAccessKey;

describe('verifySigV4', () => {
  it('accepts a DynamoDB request signed by the SDK, body included', async () => {
    const request = await capture(
      'dynamodb',
      new DynamoDBClient(config),
      new GetItemCommand({ TableName: 'Jobs', Key: { pk: { S: 'a' } } }),
    );
    const claim = readSigV4Claim(request);
    expect(claim).toMatchObject({ accessKeyId: 'AKIDTEST', region: 'us-east-1', service: 'dynamodb' });
    await verifySigV4(request, claim as NonNullable<typeof claim>, secret);
  });

  it('refuses a DynamoDB request whose body or secret differs', async () => {
    const request = await capture(
      'dynamodb',
      new DynamoDBClient(config),
      new GetItemCommand({ TableName: 'Jobs', Key: { pk: { S: 'a' } } }),
    );
    const claim = claimOf(request);
    await expect(verifySigV4({ ...request, body: request.body?.replace('Jobs', 'Other') }, claim, secret)).rejects.toThrow(
      SignatureMismatchError,
    );
    await expect(verifySigV4(request, claim, 'wrong-secret')).rejects.toThrow(SignatureMismatchError);
  });

  it('accepts an S3 upload from its headers alone, trusting x-amz-content-sha256', async () => {
    const s3 = new S3Client({ ...config, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' });
    const request = await capture('s3', s3, new PutObjectCommand({ Bucket: 'media', Key: 'inputs/a b+ü.png', Body: 'hello' }));
    await verifySigV4(request, claimOf(request), secret);
    await expect(verifySigV4({ ...request, path: '/media/inputs/other' }, claimOf(request), secret)).rejects.toThrow(
      SignatureMismatchError,
    );
  });

  it('accepts a presigned GET and refuses it once expired or altered', async () => {
    const s3 = new S3Client({ ...config, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' });
    const url = new URL(await getSignedUrl(s3, new GetObjectCommand({ Bucket: 'media', Key: 'outputs/x y.png' }), { expiresIn: 60 }));
    const request = { method: 'GET', path: url.pathname, query: url.search.slice(1), headers: { host: url.host } };
    const claim = readSigV4Claim(request);
    expect(claim).toMatchObject({ accessKeyId: 'AKIDTEST', service: 's3', presigned: { expiresIn: 60 } });
    await verifySigV4(request, claim as NonNullable<typeof claim>, secret);
    await expect(verifySigV4(request, claim as NonNullable<typeof claim>, secret, Date.now() + 120_000)).rejects.toThrow(/expired/);
    await expect(verifySigV4({ ...request, path: '/media/outputs/other' }, claim as NonNullable<typeof claim>, secret)).rejects.toThrow(
      SignatureMismatchError,
    );
  });

  it('reads no claim from an unsigned request', () => {
    expect(readSigV4Claim({ method: 'GET', path: '/media/k', query: '', headers: { host: 'h' } })).toBeUndefined();
  });
});
