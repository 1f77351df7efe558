import { createHmac } from 'node:crypto';
import { getSigningKey } from '@smithy/signature-v4';
import { describe, expect, it } from 'vitest';
import { readSigV4Claim, SignatureMismatchError, verifySigV4 } from '../../local/iam/signature';
import { NodeSha256, policySignature, resign } from '../../local/sigv4';

/** AWS's documented example credentials and requests (S3 API Reference, "Signature Calculations … Examples"). */
const credentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
const host = 'examplebucket.s3.amazonaws.com';
const signedAt = Date.UTC(2013, 4, 24);

describe('SigV4 known answers', () => {
  it('re-signs the documented presigned GET of test.txt to its documented signature', async () => {
    const query =
      'X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request' +
      '&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host' +
      '&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404';
    const resigned = await resign({
      method: 'GET',
      path: '/test.txt',
      query,
      headers: { host },
      credentials,
      region: 'us-east-1',
      service: 's3',
      signingDate: new Date(signedAt),
      signedHeaders: new Set(['host']),
      presignedFor: 86400,
    });
    expect(resigned.signature).toBe('aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404');
    expect(resigned.stringToSign).toBe(
      'AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04',
    );

    const request = { method: 'GET', path: '/test.txt', query, headers: { host } };
    const claim = readSigV4Claim(request);
    if (!claim) throw new Error('the documented URL carries no SigV4 claim');
    await verifySigV4(request, claim, credentials.secretAccessKey, signedAt + 1000);
    await expect(verifySigV4({ ...request, path: '/test2.txt' }, claim, credentials.secretAccessKey, signedAt + 1000)).rejects.toThrow(
      SignatureMismatchError,
    );
  });

  it('verifies the documented header-signed GET Object with a Range header', async () => {
    const request = {
      method: 'GET',
      path: '/test.txt',
      query: '',
      headers: {
        host,
        range: 'bytes=0-9',
        'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
        'x-amz-date': '20130524T000000Z',
        authorization:
          'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,' +
          'SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,' +
          'Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
      },
    };
    const claim = readSigV4Claim(request);
    if (!claim) throw new Error('the documented request carries no SigV4 claim');
    await verifySigV4(request, claim, credentials.secretAccessKey, signedAt);
    await expect(
      verifySigV4({ ...request, headers: { ...request.headers, range: 'bytes=0-10' } }, claim, credentials.secretAccessKey, signedAt),
    ).rejects.toThrow(SignatureMismatchError);
  });

  it('signs a POST policy with the same signing key smithy derives', async () => {
    const scope = { date: '20151229', region: 'us-east-1', service: 's3' };
    const policy = Buffer.from('{"expiration":"2015-12-30T12:00:00.000Z","conditions":[]}').toString('base64');
    const key = await getSigningKey(NodeSha256, credentials, scope.date, scope.region, scope.service);
    const expected = createHmac('sha256', Buffer.from(key)).update(policy).digest('hex');
    expect(policySignature(credentials.secretAccessKey, scope, policy)).toBe(expected);
    expect(policySignature('another-secret', scope, policy)).not.toBe(expected);
  });
});
