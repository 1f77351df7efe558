import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  accessDeniedResponse,
  badSignatureResponse,
  type ErrorResponse,
  invalidTokenResponse,
  malformedRequestResponse,
  unknownAccessKeyResponse,
  unsupportedOperationResponse,
} from './access-denied';
import { type AwsEnvironment, LOCAL_ENVIRONMENT } from './environment';
import { type Decision, PolicyEvaluator } from './evaluate';
import type { IdentityPolicy } from './policies';
import {
  type AuthorizationCheck,
  type AwsHttpRequest,
  describeRequest,
  type GatewayService,
  MalformedRequestError,
  UnsupportedOperationError,
} from './requests';
import { readSigV4Claim, resignForUpstream, SignatureMismatchError, type UpstreamCredentials, verifySigV4 } from './signature';

/** Who owns an access key: one per function, so every call is made as that function's role. */
export interface GatewayIdentity {
  principalArn: string;
  functionName: string;
  /** Return the same array on every lookup: the evaluator caches per array. */
  policies: readonly IdentityPolicy[];
  secretAccessKey: string;
  /** When set, requests must carry this `x-amz-security-token` (as Lambda's temporary credentials do). */
  sessionToken?: string;
}

export interface DecisionRecord {
  functionName: string;
  principalArn: string;
  service: GatewayService;
  action: string;
  resource: string;
  decision: Decision;
  time: number;
}

export interface AwsGatewayOptions {
  /** The emulator each service forwards to; a service without one gets no endpoint. */
  upstreams: Partial<Record<GatewayService, string>>;
  identities: (accessKeyId: string) => GatewayIdentity | undefined;
  /** The state machine that issued a task token, for SendTask* (see requests-json-services.ts). */
  taskTokenOwner?: (taskToken: string) => string | undefined;
  onDecision?: (record: DecisionRecord) => void;
  /**
   * Per service, credentials to re-sign forwarded requests with (UNSIGNED-PAYLOAD), for upstreams that check the
   * access key: s3rver refuses any key but its own (S3RVER/S3RVER). Services without an entry are forwarded as signed.
   */
  upstreamCredentials?: Partial<Record<GatewayService, UpstreamCredentials>>;
  /** Default true. False skips SigV4 verification (the access key id still selects the identity). */
  verifySignatures?: boolean;
  environment?: AwsEnvironment;
  /** How many decisions usage() keeps (oldest dropped first); default 10,000. */
  usageLimit?: number;
}

export interface AwsGateway {
  /** Per service, the URL to give the SDK (`AWS_ENDPOINT_URL_DYNAMODB=…`; S3 needs `forcePathStyle: true`). */
  endpoints: Partial<Record<GatewayService, string>>;
  usage(): DecisionRecord[];
  stop(): Promise<void>;
}

/** JSON-protocol bodies are buffered to read the operation's parameters; DynamoDB's largest request is 16 MB. */
const MAX_JSON_BODY = 16 * 1024 * 1024;
/** Headers that describe this hop, not the request. */
const HOP_HEADERS = new Set(['connection', 'keep-alive', 'expect', 'proxy-connection', 'upgrade']);

/**
 * Starts one HTTP server per upstream on 127.0.0.1. Every request is authenticated (SigV4: JSON bodies in full; S3
 * headers-only, trusting the request's own `x-amz-content-sha256` so objects stream), described as IAM checks,
 * evaluated against the caller's identity policies and then either refused with the service's own AccessDenied or
 * forwarded unchanged, bodies streamed both ways.
 */
export async function startAwsGateway(options: AwsGatewayOptions): Promise<AwsGateway> {
  const environment = options.environment ?? LOCAL_ENVIRONMENT;
  const evaluator = new PolicyEvaluator({ account: environment.account });
  const records: DecisionRecord[] = [];
  const servers: Server[] = [];
  const endpoints: Partial<Record<GatewayService, string>> = {};

  const record = (entry: DecisionRecord) => {
    records.push(entry);
    if (records.length > (options.usageLimit ?? 10_000)) records.shift();
    options.onDecision?.(entry);
  };

  try {
    for (const [service, upstream] of Object.entries(options.upstreams) as [GatewayService, string | undefined][]) {
      if (!upstream) continue;
      const handler = new ServiceHandler(service, new URL(upstream), options, environment, evaluator, record);
      const server = createServer((req, res) => {
        handler.handle(req, res).catch((error: unknown) => fail(res, error));
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      servers.push(server);
      endpoints[service] = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    }
  } catch (error) {
    await closeAll(servers);
    throw error;
  }

  return {
    endpoints,
    usage: () => [...records],
    stop: () => closeAll(servers),
  };
}

class ServiceHandler {
  constructor(
    private readonly service: GatewayService,
    private readonly upstream: URL,
    private readonly options: AwsGatewayOptions,
    private readonly environment: AwsEnvironment,
    private readonly evaluator: PolicyEvaluator,
    private readonly record: (entry: DecisionRecord) => void,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const [path = '/', query = ''] = splitUrl(req.url ?? '/');
    const headers = flatHeaders(req);
    const method = req.method ?? 'GET';
    const answer = (response: ErrorResponse) => respond(res, response, method, req);

    // CORS preflights carry no credentials and IAM never sees them: S3 answers them from the bucket's CORS rules.
    if (this.service === 's3' && method.toUpperCase() === 'OPTIONS')
      return this.forward(req, res, { method, path, query, headers }, undefined, []);

    // Browser form uploads sign a POST policy inside the multipart body; that flow lives in local/s3-gateway.ts.
    if (this.service === 's3' && method.toUpperCase() === 'POST' && /^multipart\/form-data/i.test(headers['content-type'] ?? '')) {
      const message = 'the local IAM gateway does not handle POST-policy (form) uploads; local/s3-gateway.ts does';
      return answer(unsupportedOperationResponse(this.service, message));
    }

    const claim = readSigV4Claim({ method, path, query, headers });
    const identity = claim ? this.options.identities(claim.accessKeyId) : undefined;
    if (!claim || !identity) return answer(unknownAccessKeyResponse(this.service, claim?.accessKeyId));
    const token = claim.presigned ? claim.presigned.sessionToken : headers['x-amz-security-token'];
    if (identity.sessionToken !== undefined && token !== identity.sessionToken) {
      return answer(invalidTokenResponse(this.service));
    }

    // S3 bodies stream through untouched; the JSON protocols' bodies name the resources, so they are read first.
    const body = this.service === 's3' ? undefined : await readBody(req);
    if (body === null) return answer(malformedRequestResponse(this.service, `request body larger than ${MAX_JSON_BODY} bytes`));

    if (this.options.verifySignatures !== false) {
      try {
        await verifySigV4({ method, path, query, headers, body }, claim, identity.secretAccessKey);
      } catch (error) {
        if (error instanceof SignatureMismatchError) return answer(badSignatureResponse(this.service, error.message));
        throw error;
      }
    }

    const request: AwsHttpRequest = { service: this.service, method, path, query, headers, body };
    let checks: AuthorizationCheck[];
    try {
      checks = describeRequest(request, { ...this.environment, taskTokenOwner: this.options.taskTokenOwner });
    } catch (error) {
      if (error instanceof UnsupportedOperationError) return answer(unsupportedOperationResponse(this.service, error.message));
      if (error instanceof MalformedRequestError) return answer(malformedRequestResponse(this.service, error.message));
      throw error;
    }

    for (const check of checks) {
      const denied = await this.decide(identity, check);
      if (denied) return answer(denied);
    }
    await this.forward(req, res, { method, path, query, headers, body }, identity, checks);
  }

  /** Evaluates and records one check; returns the AccessDenied answer when it is not allowed. */
  private async decide(identity: GatewayIdentity, check: AuthorizationCheck): Promise<ErrorResponse | undefined> {
    const decision = await this.evaluator.evaluate(identity, check);
    this.record({
      functionName: identity.functionName,
      principalArn: identity.principalArn,
      service: this.service,
      ...check,
      decision,
      time: Date.now(),
    });
    return decision === 'Allowed' ? undefined : accessDeniedResponse(this.service, identity.principalArn, check, decision);
  }

  private async forward(
    req: IncomingMessage,
    res: ServerResponse,
    request: { method: string; path: string; query: string; headers: Record<string, string | undefined>; body?: string },
    identity: GatewayIdentity | undefined,
    checks: AuthorizationCheck[],
  ): Promise<void> {
    let headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) if (value !== undefined && !HOP_HEADERS.has(name)) headers[name] = value;
    headers.host = this.upstream.host;
    let query = request.query;
    const credentials = this.options.upstreamCredentials?.[this.service];
    if (credentials && identity) {
      const service = this.service === 'sfn' ? 'states' : this.service;
      ({ headers, query } = await resignForUpstream({ ...request, headers }, this.upstream, service, this.environment.region, credentials));
    }
    const upstreamRequest = httpRequest(
      {
        protocol: this.upstream.protocol,
        hostname: this.upstream.hostname,
        port: this.upstream.port,
        method: request.method,
        path: `${this.upstream.pathname.replace(/\/$/, '')}${request.path}${query ? `?${query}` : ''}`,
        headers,
      },
      (upstreamResponse) => {
        void this.relay(upstreamResponse, res, request.method, identity, checks).catch((error: unknown) => fail(res, error));
      },
    );
    upstreamRequest.on('error', (error) => fail(res, error));
    // A caller that hangs up mid-transfer must not leave the upstream transfer running.
    res.on('close', () => {
      if (!res.writableFinished) upstreamRequest.destroy();
    });
    if (request.body !== undefined) upstreamRequest.end(request.body);
    else req.pipe(upstreamRequest);
  }

  private async relay(
    upstreamResponse: IncomingMessage,
    res: ServerResponse,
    method: string,
    identity: GatewayIdentity | undefined,
    checks: AuthorizationCheck[],
  ): Promise<void> {
    // S3 answers a read of a missing key with AccessDenied, not NoSuchKey, unless the caller may list the bucket.
    const read = checks.length === 1 && checks[0]?.action === 's3:GetObject' ? checks[0] : undefined;
    if (read && identity && upstreamResponse.statusCode === 404) {
      const bucket = read.resource.slice(0, read.resource.indexOf('/', 'arn:aws:s3:::'.length));
      const denied = await this.decide(identity, { action: 's3:ListBucket', resource: bucket });
      if (denied) {
        upstreamResponse.resume();
        return respond(res, denied, method);
      }
    }
    res.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.statusMessage, upstreamResponse.rawHeaders);
    upstreamResponse.pipe(res);
  }
}

function respond(res: ServerResponse, response: ErrorResponse, method: string, req?: IncomingMessage): void {
  // A refused upload must not leave its body unread on a kept-alive connection.
  if (req && !req.readableEnded) req.resume();
  const body = method.toUpperCase() === 'HEAD' ? '' : response.body;
  res.writeHead(response.status, { ...response.headers, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function fail(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy(error instanceof Error ? error : undefined);
    return;
  }
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  res.writeHead(502, { 'content-type': 'text/plain' });
  res.end(`local AWS gateway: ${message}`);
}

/** Resolves with the UTF-8 body, or null when it exceeds MAX_JSON_BODY. */
function readBody(req: IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_JSON_BODY) chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_JSON_BODY ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function splitUrl(url: string): [string, string] {
  const q = url.indexOf('?');
  return q === -1 ? [url, ''] : [url.slice(0, q), url.slice(q + 1)];
}

function flatHeaders(req: IncomingMessage): Record<string, string | undefined> {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers)) headers[name] = Array.isArray(value) ? value.join(',') : value;
  return headers;
}

async function closeAll(servers: Server[]): Promise<void> {
  await Promise.all(
    servers.map(
      (server) =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        }),
    ),
  );
}
