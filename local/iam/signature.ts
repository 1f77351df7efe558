import { createHash } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { NodeSha256, PRESIGN_PARAMS, parseAmzDate, parseAuthorization, queryRecord, resign, sameSignature } from '../sigv4';

/** What the gateway reads from a SigV4 request before it knows who is calling. */
export interface SigV4Claim {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
  /** Presigned (query-string) requests carry everything in the URL and expire. */
  presigned?: { expiresIn: number; sessionToken?: string };
}

/** The received request, as the signer needs it: raw path, raw query, lower-case headers, and the body when buffered. */
export interface SignedRequest {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string | undefined>;
  /** JSON-protocol bodies; undefined for streamed S3 bodies, whose `x-amz-content-sha256` value is taken as signed. */
  body?: string;
}

/** Why a signature was refused, in the words the service would use. */
export class SignatureMismatchError extends Error {
  override name = 'SignatureMismatchError';
}

/** AWS refuses header-signed requests more than 15 minutes off its clock. */
const MAX_SKEW_MS = 15 * 60_000;

/** The SigV4 claim of a request (Authorization header or presigned query), or undefined for an unsigned request. */
export function readSigV4Claim(request: SignedRequest): SigV4Claim | undefined {
  const header = request.headers.authorization;
  if (header) {
    const auth = parseAuthorization(header);
    const scope = auth?.credential.split('/');
    if (!auth || scope?.length !== 5) return undefined;
    const [accessKeyId, , region, service] = scope as [string, string, string, string];
    const date = request.headers['x-amz-date'] ?? '';
    return { accessKeyId, date, region, service, signedHeaders: auth.signedHeaders.split(';'), signature: auth.signature };
  }
  const params = new URLSearchParams(request.query);
  const credential = params.get('X-Amz-Credential')?.split('/');
  if (params.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256' || credential?.length !== 5) return undefined;
  const [accessKeyId, , region, service] = credential as [string, string, string, string];
  return {
    accessKeyId,
    date: params.get('X-Amz-Date') ?? '',
    region,
    service,
    signedHeaders: (params.get('X-Amz-SignedHeaders') ?? 'host').split(';'),
    signature: params.get('X-Amz-Signature') ?? '',
    presigned: { expiresIn: Number(params.get('X-Amz-Expires') ?? '0'), sessionToken: params.get('X-Amz-Security-Token') ?? undefined },
  };
}

/**
 * Re-signs the request with @smithy/signature-v4 (the SDK's own signer) and the caller's secret, and throws
 * SignatureMismatchError unless the signatures match and the request is within its validity window.
 */
export async function verifySigV4(request: SignedRequest, claim: SigV4Claim, secretAccessKey: string, now = Date.now()): Promise<void> {
  const signingDate = parseAmzDate(claim.date);
  if (!signingDate) throw new SignatureMismatchError('The request has no valid X-Amz-Date.');
  if (claim.presigned) {
    if (now > signingDate.getTime() + claim.presigned.expiresIn * 1000) throw new SignatureMismatchError('Request has expired');
  } else if (Math.abs(now - signingDate.getTime()) > MAX_SKEW_MS) {
    throw new SignatureMismatchError('Signature expired: the request time is too far from the server time.');
  }

  const signed = new Set(claim.signedHeaders);
  const headers: Record<string, string> = {};
  for (const name of signed) {
    const value = request.headers[name];
    if (value === undefined) throw new SignatureMismatchError(`Signed header ${name} is missing from the request.`);
    headers[name] = value;
  }
  // The signer takes a present x-amz-content-sha256 on trust; a buffered body is checked against it here.
  const declared = headers['x-amz-content-sha256'];
  if (request.body !== undefined && declared && createHash('sha256').update(request.body, 'utf8').digest('hex') !== declared) {
    throw new SignatureMismatchError("The provided 'x-amz-content-sha256' header does not match what was computed.");
  }
  const { signature: expected } = await resign({
    ...request,
    headers,
    credentials: {
      accessKeyId: claim.accessKeyId,
      secretAccessKey,
      sessionToken: claim.presigned
        ? claim.presigned.sessionToken
        : signed.has('x-amz-security-token')
          ? headers['x-amz-security-token']
          : undefined,
    },
    region: claim.region,
    service: claim.service,
    signingDate,
    signedHeaders: signed,
    presignedFor: claim.presigned?.expiresIn,
  });
  if (!expected || !sameSignature(expected, claim.signature)) {
    throw new SignatureMismatchError(
      'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    );
  }
}

/** Credentials the gateway signs forwarded requests with, for upstreams that check them (s3rver: S3RVER/S3RVER). */
export interface UpstreamCredentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/**
 * The headers and query string to forward a request to an upstream with its own credentials: the caller's
 * signature (header or presigned query) is replaced by one made with `credentials`, over UNSIGNED-PAYLOAD so the
 * body still streams. aws-chunked uploads keep their STREAMING-* marker so the upstream still decodes the framing.
 */
export async function resignForUpstream(
  request: SignedRequest & { headers: Record<string, string> },
  upstream: URL,
  service: string,
  region: string,
  credentials: UpstreamCredentials,
): Promise<{ headers: Record<string, string>; query: string }> {
  const rawQuery = request.query
    .split('&')
    .filter(
      (pair) => pair && !PRESIGN_PARAMS.includes(decodeURIComponent(pair.split('=')[0] ?? '')) && !pair.startsWith('X-Amz-Security-Token='),
    )
    .join('&');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (name !== 'authorization' && name !== 'x-amz-date' && name !== 'x-amz-security-token') headers[name] = value;
  }
  headers.host = upstream.host;
  if (!headers['x-amz-content-sha256']?.startsWith('STREAMING-')) headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
  const signer = new SignatureV4({
    service,
    region,
    credentials,
    sha256: NodeSha256,
    uriEscapePath: service !== 's3',
    applyChecksum: false,
  });
  const signed = await signer.sign({
    method: request.method.toUpperCase(),
    protocol: upstream.protocol,
    hostname: upstream.hostname,
    port: upstream.port ? Number(upstream.port) : undefined,
    path: request.path,
    query: queryRecord(rawQuery, () => true),
    headers,
  });
  return { headers: signed.headers as Record<string, string>, query: rawQuery };
}
