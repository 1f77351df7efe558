import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Checksum, HeaderBag, HttpRequest, SourceData } from '@smithy/types';

/**
 * SigV4 for the local gateways. A received request is checked by re-signing it with @smithy/signature-v4 (the SDK's
 * own signer) from the same date, scope and signed headers, then comparing in constant time.
 */

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** What `resign` needs: the request as received (raw path and query, only the signed headers) and the claimed scope. */
export interface ResignInput {
  method: string;
  path: string;
  /** The raw query string; the signature parameters of a presigned URL are dropped before signing. */
  query: string;
  headers: Record<string, string>;
  /** A buffered body to hash; without it the request's `x-amz-content-sha256` is the payload hash. */
  body?: string;
  credentials: Credentials & { sessionToken?: string };
  region: string;
  service: string;
  signingDate: Date;
  signedHeaders: ReadonlySet<string>;
  /** Query-string signing (a presigned URL) valid for this many seconds, instead of an Authorization header. */
  presignedFor?: number;
}

/** The signature the request should carry, with the canonical request and string to sign S3 echoes on a mismatch. */
export interface Resigned {
  signature: string;
  canonicalRequest: string;
  stringToSign: string;
}

const AUTH = /^AWS4-HMAC-SHA256 Credential=([^,]+),\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]+)$/;
export const PRESIGN_PARAMS = [
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Signature',
];

/** Parses `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`. */
export function parseAuthorization(header: string): { credential: string; signedHeaders: string; signature: string } | undefined {
  const match = AUTH.exec(header.trim());
  return match ? { credential: match[1] as string, signedHeaders: match[2] as string, signature: match[3] as string } : undefined;
}

/** Re-signs a received request as its sender should have. */
export async function resign(input: ResignInput): Promise<Resigned> {
  const isS3 = input.service === 's3';
  const signer = new RecordingSignatureV4({
    service: input.service,
    region: input.region,
    credentials: input.credentials,
    sha256: NodeSha256,
    // S3 signs the path exactly as sent; every other service signs it URI-encoded once more.
    uriEscapePath: !isS3,
    applyChecksum: false,
  });
  const request: HttpRequest = {
    method: input.method.toUpperCase(),
    protocol: 'http:',
    hostname: (input.headers.host ?? '').replace(/:\d+$/, ''),
    path: input.path,
    query: {},
    headers: input.headers,
    body: input.body,
  };
  let signature: string | undefined;
  if (input.presignedFor !== undefined) {
    request.query = queryRecord(input.query, (name) => !PRESIGN_PARAMS.includes(name) && name !== 'X-Amz-Security-Token');
    // Presigned S3 URLs sign UNSIGNED-PAYLOAD (or their X-Amz-Content-Sha256) and only the headers they list, as the SDK presigner does.
    if (isS3) {
      const payloadHash = request.query['X-Amz-Content-Sha256'];
      request.headers = { ...input.headers, 'x-amz-content-sha256': typeof payloadHash === 'string' ? payloadHash : 'UNSIGNED-PAYLOAD' };
    }
    const presigned = await signer.presign(request, {
      signingDate: input.signingDate,
      expiresIn: input.presignedFor,
      signableHeaders: new Set(input.signedHeaders),
      unsignableHeaders: input.signedHeaders.has('x-amz-content-sha256') ? undefined : new Set(['x-amz-content-sha256']),
      unhoistableHeaders: new Set(Object.keys(request.headers)),
    });
    signature = presigned.query?.['X-Amz-Signature'] as string | undefined;
  } else {
    request.query = queryRecord(input.query, () => true);
    const signed = await signer.sign(request, { signingDate: input.signingDate, signableHeaders: new Set(input.signedHeaders) });
    signature = parseAuthorization(signed.headers.authorization ?? '')?.signature;
  }
  return { signature: signature ?? '', canonicalRequest: signer.canonicalRequest, stringToSign: signer.stringToSign };
}

/** The signer, keeping the canonical request and string to sign it built (S3 returns them in SignatureDoesNotMatch). */
class RecordingSignatureV4 extends SignatureV4 {
  canonicalRequest = '';
  stringToSign = '';
  protected override createCanonicalRequest(request: HttpRequest, canonicalHeaders: HeaderBag, payloadHash: string): string {
    this.canonicalRequest = super.createCanonicalRequest(request, canonicalHeaders, payloadHash);
    return this.canonicalRequest;
  }
  protected override async createStringToSign(
    longDate: string,
    scope: string,
    canonicalRequest: string,
    algorithm: string,
  ): Promise<string> {
    this.stringToSign = await super.createStringToSign(longDate, scope, canonicalRequest, algorithm);
    return this.stringToSign;
  }
}

/**
 * The signature of an S3 POST policy: HMAC-SHA256 of the base64 policy with the SigV4 signing key. Hand-written because
 * smithy has no policy signer and its key derivation is async, while the policy is checked synchronously in busboy's file callback.
 */
export function policySignature(secretAccessKey: string, scope: { date: string; region: string; service: string }, policy: string): string {
  const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();
  const key = [scope.date, scope.region, scope.service, 'aws4_request'].reduce<Buffer | string>(hmac, `AWS4${secretAccessKey}`);
  return createHmac('sha256', key).update(policy, 'utf8').digest('hex');
}

/** Constant-time comparison of two hex signatures. */
export function sameSignature(expected: string, given: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(given.toLowerCase(), 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

export interface CredentialScope {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
}

/** Parses `AKID/yyyymmdd/region/service/aws4_request`. */
export function parseCredential(value: string): CredentialScope | undefined {
  const parts = value.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request') return undefined;
  const [accessKeyId, date, region, service] = parts as [string, string, string, string];
  if (!accessKeyId || !/^\d{8}$/.test(date) || !region || !service) return undefined;
  return { accessKeyId, date, region, service };
}

/** Parses an ISO 8601 basic timestamp `yyyymmddThhmmssZ`. */
export function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, se));
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** Decodes a query component as SigV4 clients send it (`+` is a literal plus, not a space). */
function decodeComponent(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Splits a raw query string into decoded pairs, keeping order and duplicates. */
export function parseRawQuery(raw: string): [string, string][] {
  if (!raw) return [];
  return raw
    .split('&')
    .filter(Boolean)
    .map((pair) => {
      const eq = pair.indexOf('=');
      // A bare `?uploads` is signed as `uploads=`; the signer writes empty values that way.
      return eq === -1 ? [decodeComponent(pair), ''] : [decodeComponent(pair.slice(0, eq)), decodeComponent(pair.slice(eq + 1))];
    });
}

/** Raw query string → decoded record (repeated names become arrays), as HttpRequest.query holds it. */
export function queryRecord(raw: string, keep: (name: string) => boolean): Record<string, string | string[]> {
  const record: Record<string, string | string[]> = {};
  for (const [name, value] of parseRawQuery(raw)) {
    if (!keep(name)) continue;
    const existing = record[name];
    record[name] = existing === undefined ? value : [...[existing].flat(), value];
  }
  return record;
}

/** node:crypto behind the Checksum interface the signer expects (SHA-256, or HMAC-SHA256 when given a key). */
export class NodeSha256 implements Checksum {
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
