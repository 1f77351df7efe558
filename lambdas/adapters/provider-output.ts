import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { fileTypeFromBuffer } from 'file-type';
import type { OutputRule } from '../domain/catalog';
import { ProviderFailed } from '../domain/errors';

/**
 * Bounded memory whatever the output's size: lib-storage holds at most PART_QUEUE parts of PART_BYTES while they
 * upload, plus the one being filled: (4 + 1) × 8 MiB = 40 MiB. A 2 GiB video output is 256 parts (S3 allows 10,000).
 */
const PART_BYTES = 8 * 1024 * 1024;
const PART_QUEUE = 4;
/** Enough leading bytes for file-type to recognise every image and video type the catalog accepts. */
const SNIFF_BYTES = 4100;
const MAX_REDIRECTS = 3;

/**
 * Which URLs the provider may hand us: its own API host (any scheme it uses), and over HTTPS only the operator's
 * file hosts (`cdn.example.com` exactly, `*.example.com` any subdomain). Anything else is refused before a byte is
 * fetched: a compromised or confused provider answer must not make us fetch internal or arbitrary URLs.
 */
export function providerFileHosts(baseUrl: string, fileHosts: readonly string[]) {
  const api = new URL(baseUrl);
  const matches = (host: string) =>
    fileHosts.some((allowed) => (allowed.startsWith('*.') ? host.endsWith(allowed.slice(1)) : host === allowed));
  return (url: URL): string | null => {
    if (url.host === api.host && url.protocol === api.protocol) return null;
    if (url.protocol !== 'https:') return `The provider's output URL is not HTTPS (${url.protocol}//${url.host}).`;
    return matches(url.hostname) ? null : `The provider's output comes from ${url.hostname}, which is not one of its file hosts.`;
  };
}

export interface OutputDownload {
  s3: S3Client;
  bucket: string;
  /** Null when the URL may be fetched, else why not. */
  refuse: (url: URL) => string | null;
  timeoutMs: number;
}

/**
 * Streams a provider output into S3: type from the bytes (never the provider's header), size counted as it flows,
 * either outside the rule fails the job as the provider's error and leaves no object behind.
 */
export async function streamOutputToS3(
  { s3, bucket, refuse, timeoutMs }: OutputDownload,
  fileUrl: string,
  key: string,
  rule: OutputRule,
): Promise<{ contentType: string; bytes: number }> {
  const response = await fetchAllowed(fileUrl, refuse, AbortSignal.timeout(timeoutMs));
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (declared > rule.maxBytes) {
    await response.body?.cancel();
    throw new ProviderFailed(`The provider's output is ${declared} bytes; outputs of this tool may be at most ${rule.maxBytes}.`);
  }
  if (!response.body) throw new ProviderFailed('The provider answered the output URL with no body.');
  const chunks = Readable.fromWeb(response.body as never)[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  try {
    const head = await readHead(chunks);
    const sniffed = await fileTypeFromBuffer(head);
    if (!sniffed || !rule.types.includes(sniffed.mime)) {
      throw new ProviderFailed(`The provider's output is ${sniffed?.mime ?? 'of an unknown type'}; expected ${rule.types.join(' or ')}.`);
    }
    let bytes = 0;
    let refusal: ProviderFailed | undefined;
    async function* counted() {
      for (let chunk: Buffer | undefined = head; chunk; chunk = await next(chunks)) {
        bytes += chunk.length;
        if (bytes > rule.maxBytes) {
          refusal = new ProviderFailed(`The provider's output exceeds ${rule.maxBytes} bytes.`);
          throw refusal;
        }
        yield chunk;
      }
    }
    const upload = new Upload({
      client: s3,
      params: { Bucket: bucket, Key: key, Body: Readable.from(counted()), ContentType: sniffed.mime },
      partSize: PART_BYTES,
      queueSize: PART_QUEUE,
      leavePartsOnError: false,
    });
    // The refusal is the cause even when aborting the multipart upload fails too (S3's lifecycle rule
    // removes incomplete uploads).
    await upload.done().catch((error: unknown) => {
      throw refusal ?? error;
    });
    return { contentType: sniffed.mime, bytes };
  } finally {
    await chunks.return?.();
  }
}

/** Follows redirects by hand so that every hop is checked against the allowed hosts. */
async function fetchAllowed(fileUrl: string, refuse: (url: URL) => string | null, signal: AbortSignal): Promise<Response> {
  if (!URL.canParse(fileUrl)) throw new ProviderFailed("The provider's output URL is not a URL.");
  let url = new URL(fileUrl);
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const refusal = refuse(url);
    if (refusal) throw new ProviderFailed(refusal);
    const response = await fetch(url, { redirect: 'manual', signal });
    const location = response.headers.get('location');
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      url = new URL(location, url);
      continue;
    }
    if (response.ok) return response;
    await response.body?.cancel();
    // A 5xx (like a network error) is a plain Error: the state machine retries CollectOutputs. A 4xx will not change.
    if (response.status >= 500) throw new Error(`Downloading an output failed with HTTP ${response.status}`);
    throw new ProviderFailed(`The provider's output URL answered HTTP ${response.status}.`);
  }
  throw new ProviderFailed(`The provider's output URL redirects more than ${MAX_REDIRECTS} times.`);
}

async function next(chunks: AsyncIterator<Buffer>): Promise<Buffer | undefined> {
  const { value, done } = await chunks.next();
  return done ? undefined : value;
}

async function readHead(chunks: AsyncIterator<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  let length = 0;
  while (length < SNIFF_BYTES) {
    const chunk = await next(chunks);
    if (!chunk) break;
    parts.push(chunk);
    length += chunk.length;
  }
  return Buffer.concat(parts);
}
