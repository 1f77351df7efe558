import type { AwsHttpRequest, GatewayService } from '../../local/iam/requests';

/** What an SDK client needs to send one command through a test request handler. */
interface Sendable {
  send(command: never): Promise<unknown>;
}

class Captured extends Error {
  override name = 'Captured';
}

type SmithyRequest = {
  method: string;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body?: unknown;
};

/** Options that make an SDK client hand its HTTP request to `onRequest` instead of the network. */
function capturingClientConfig(onRequest: (request: SmithyRequest) => void) {
  return {
    region: 'us-east-1',
    endpoint: 'http://127.0.0.1:1',
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
    maxAttempts: 1,
    requestHandler: {
      handle: async (request: SmithyRequest) => {
        onRequest(request);
        throw new Captured();
      },
    },
  };
}

/** Sends `command` with `client` (built with capturingClientConfig) and returns the request as the gateway would see it. */
async function captureRequest(
  service: GatewayService,
  client: Sendable,
  command: unknown,
  last: { request?: SmithyRequest },
): Promise<AwsHttpRequest> {
  await client.send(command as never).catch((error: Error) => {
    if (error.name !== 'Captured') throw error;
  });
  const request = last.request;
  if (!request) throw new Error('the client sent nothing');
  const query = Object.entries(request.query ?? {})
    .flatMap(([name, value]) =>
      value === null ? [encodeURIComponent(name)] : [value].flat().map((v) => `${encodeURIComponent(name)}=${encodeURIComponent(v)}`),
    )
    .join('&');
  const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name.toLowerCase(), value]));
  const body =
    typeof request.body === 'string'
      ? request.body
      : request.body instanceof Uint8Array
        ? new TextDecoder().decode(request.body)
        : undefined;
  return { service, method: request.method, path: request.path, query, headers, body: service === 's3' ? undefined : body };
}

/** A client config plus `capture(service, client, command)`, which returns what the client would have sent. */
export function requestCapture() {
  const last: { request?: SmithyRequest } = {};
  return {
    config: capturingClientConfig((request) => {
      last.request = request;
    }),
    capture: (service: GatewayService, client: Sendable, command: unknown) => captureRequest(service, client, command, last),
  };
}
