import type { IncomingMessage } from 'node:http';
import { S3Error } from './s3-errors';
import { type Credentials, parseAmzDate, parseCredential, parseRawQuery, resign, sameSignature } from './sigv4';

/** Longest validity S3 accepts for a presigned URL. */
const MAX_PRESIGNED_EXPIRES = 604_800;

/** Who may sign for the gateway, in which region, and its clock. */
export interface SignerContext {
  keys: (accessKeyId: string) => Credentials | undefined;
  region: string;
  now: () => Date;
}

/** Verifies a presigned (query-string SigV4) request the way S3 does; returns the signer's access key id. Throws S3Error. */
export async function checkPresignedUrl(
  req: IncomingMessage,
  rawPath: string,
  rawQuery: string,
  { keys, region, now }: SignerContext,
): Promise<string> {
  const pairs = parseRawQuery(rawQuery);
  const param = (name: string) => pairs.find(([n]) => n === name)?.[1];
  if (param('X-Amz-Algorithm') === undefined) {
    // No credentials at all: an anonymous read of a private bucket.
    throw new S3Error(403, 'AccessDenied', 'Access Denied');
  }
  const required = ['X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature'];
  const missing = required.filter((name) => param(name) === undefined);
  if (param('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256' || missing.length > 0) {
    throw new S3Error(
      400,
      'AuthorizationQueryParametersError',
      'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
    );
  }
  const credential = parseCredential(param('X-Amz-Credential') as string);
  const signedAt = parseAmzDate(param('X-Amz-Date') as string);
  const expires = Number(param('X-Amz-Expires'));
  if (!credential || !signedAt) {
    throw new S3Error(400, 'AuthorizationQueryParametersError', 'Error parsing the X-Amz-Credential or X-Amz-Date parameter.');
  }
  if (!Number.isSafeInteger(expires) || expires < 0) {
    throw new S3Error(400, 'AuthorizationQueryParametersError', 'X-Amz-Expires should be a number');
  }
  if (expires > MAX_PRESIGNED_EXPIRES) {
    throw new S3Error(400, 'AuthorizationQueryParametersError', 'X-Amz-Expires must be less than a week (in seconds) that is 604800');
  }
  const signer = keys(credential.accessKeyId);
  if (!signer) {
    throw new S3Error(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', {
      AWSAccessKeyId: credential.accessKeyId,
    });
  }
  if (credential.region !== region || credential.service !== 's3') {
    throw new S3Error(
      400,
      'AuthorizationQueryParametersError',
      `Error parsing the X-Amz-Credential parameter; the region '${credential.region}' is wrong; expecting '${region}'`,
      { Region: region },
    );
  }
  const current = now();
  const expiresAt = new Date(signedAt.getTime() + expires * 1000);
  if (current.getTime() > expiresAt.getTime()) {
    throw new S3Error(403, 'AccessDenied', 'Request has expired', {
      'X-Amz-Expires': expires,
      Expires: expiresAt.toISOString(),
      ServerTime: current.toISOString(),
    });
  }
  const signedHeaders = new Set((param('X-Amz-SignedHeaders') as string).toLowerCase().split(';'));
  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = req.headers[name];
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const {
    signature: expected,
    stringToSign,
    canonicalRequest,
  } = await resign({
    method: req.method ?? 'GET',
    path: rawPath,
    query: rawQuery,
    headers,
    credentials: signer,
    region: credential.region,
    service: credential.service,
    signingDate: signedAt,
    signedHeaders,
    presignedFor: expires,
  });
  if (!sameSignature(expected, param('X-Amz-Signature') as string)) {
    throw new S3Error(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      { AWSAccessKeyId: credential.accessKeyId, StringToSign: stringToSign, CanonicalRequest: canonicalRequest },
    );
  }
  return credential.accessKeyId;
}
