import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Checksum, HttpRequest, SourceData } from '@smithy/types';

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

const AUTH = /^AWS4-HMAC-SHA256 Credential=([^,]+),\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]+)$/;
/** AWS refuses header-signed requests more than 15 minutes off its clock. */
const MAX_SKEW_MS = 15 * 60_000;
const PRESIGN_PARAMS = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature'];

/** The SigV4 claim of a request (Authorization header or presigned query), or undefined for an unsigned request. */
export function readSigV4Claim(request: SignedRequest): SigV4Claim | undefined {
  const header = request.headers.authorization;
  if (header) {
    const match = AUTH.exec(header.trim());
    const scope = match?.[1]?.split('/');
    if (!match || scope?.length !== 5) return undefined;
    const [accessKeyId, , region, service] = scope as [string, string, string, string];
    const date = request.headers['x-amz-date'] ?? '';
    return { accessKeyId, date, region, service, signedHeaders: (match[2] as string).split(';'), signature: match[3] as string };
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
  const isS3 = claim.service === 's3';
  const signer = new SignatureV4({
    service: claim.service,
    region: claim.region,
    credentials: {
      accessKeyId: claim.accessKeyId,
      secretAccessKey,
      sessionToken: claim.presigned
        ? claim.presigned.sessionToken
        : signed.has('x-amz-security-token')
          ? headers['x-amz-security-token']
          : undefined,
    },
    sha256: Sha256,
    // S3 signs the path exactly as sent; every other service signs it URI-encoded once more.
    uriEscapePath: !isS3,
    applyChecksum: false,
  });
  const base: HttpRequest = {
    method: request.method.toUpperCase(),
    protocol: 'http:',
    hostname: (headers.host ?? '').replace(/:\d+$/, ''),
    path: request.path,
    query: {},
    headers,
    body: request.body,
  };

  let expected: string | undefined;
  if (claim.presigned) {
    base.query = queryRecord(request.query, (name) => !PRESIGN_PARAMS.includes(name) && name !== 'X-Amz-Security-Token');
    // Presigned S3 URLs sign UNSIGNED-PAYLOAD and only the headers they list (the SDK presigner does the same).
    if (isS3) base.headers = { ...headers, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' };
    const presigned = await signer.presign(base, {
      signingDate,
      expiresIn: claim.presigned.expiresIn,
      unsignableHeaders: signed.has('x-amz-content-sha256') ? undefined : new Set(['x-amz-content-sha256']),
      unhoistableHeaders: new Set(Object.keys(base.headers)),
    });
    expected = presigned.query?.['X-Amz-Signature'] as string | undefined;
  } else {
    base.query = queryRecord(request.query, () => true);
    const result = await signer.sign(base, { signingDate, signableHeaders: signed });
    expected = AUTH.exec(result.headers.authorization ?? '')?.[3];
  }
  if (!expected || !sameHex(expected, claim.signature)) {
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
  const signer = new SignatureV4({ service, region, credentials, sha256: Sha256, uriEscapePath: service !== 's3', applyChecksum: false });
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

/** Raw query string → decoded record (repeated names become arrays), as HttpRequest.query holds it. */
function queryRecord(raw: string, keep: (name: string) => boolean): Record<string, string | string[]> {
  const record: Record<string, string | string[]> = {};
  for (const pair of raw.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const name = decodeURIComponent(eq === -1 ? pair : pair.slice(0, eq));
    // A bare `?uploads` is signed as `uploads=`; the signer writes null values that way.
    const value = eq === -1 ? '' : decodeURIComponent(pair.slice(eq + 1));
    if (!keep(name)) continue;
    const existing = record[name];
    record[name] = existing === undefined ? value : [...[existing].flat(), value];
  }
  return record;
}

function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  return m ? new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`) : undefined;
}

function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b.toLowerCase());
  return x.length === y.length && timingSafeEqual(x, y);
}

/** node:crypto behind the Checksum interface the signer expects (SHA-256, or HMAC-SHA256 when given a key). */
class Sha256 implements Checksum {
  private hash;
  constructor(private readonly secret?: SourceData) {
    this.hash = this.create();
  }
  update(data: Uint8Array): void {
    this.hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.create();
  }
  private create() {
    return this.secret === undefined ? createHash('sha256') : createHmac('sha256', toBuffer(this.secret));
  }
}

const toBuffer = (data: SourceData): Buffer =>
  typeof data === 'string'
    ? Buffer.from(data, 'utf8')
    : ArrayBuffer.isView(data)
      ? Buffer.from(data.buffer, data.byteOffset, data.byteLength)
      : Buffer.from(data);
