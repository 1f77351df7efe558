import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import type { WebSocketApiSpec } from '../cloud/template-reader';

/**
 * The local stand-in for an API Gateway WebSocket API: browsers connect at `/<stage>?token=…`, each route's function
 * gets API Gateway's WebSocket event, and the management API (`POST/GET/DELETE /<apiId>/<stage>/@connections/<id>`)
 * lets functions push; it sits behind the IAM gateway, which checks `execute-api:ManageConnections` first.
 */
export interface LocalWebSocketApiOptions {
  spec: WebSocketApiSpec;
  invoke(functionArn: string, event: unknown): Promise<unknown>;
  /**
   * The $connect authorizer's answer for a token: the user id, or a throw for 401. Locally the stack verifies its
   * own tokens (as it does for the HTTP API's JWT authorizer): the template's authorizer trusts Cognito's keys.
   */
  authorize(token: string | undefined): Promise<string>;
  region: string;
}

export interface LocalWebSocketApi {
  /** Takes an HTTP upgrade on the stack's server; false when the path is not this API's stage. */
  handleUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): boolean;
  /** Where the IAM gateway forwards management calls (the path adds `/<apiId>/<stage>`). */
  managementEndpoint: string;
  stop(): Promise<void>;
}

interface Connection {
  socket?: WebSocket;
  /** Posts that arrived while $connect was still running: sent once the socket is open. */
  pending: string[];
  userId: string;
  connectedAt: number;
  sourceIp: string;
}

export async function startLocalWebSocketApi({ spec, invoke, authorize, region }: LocalWebSocketApiOptions): Promise<LocalWebSocketApi> {
  const wss = new WebSocketServer({ noServer: true });
  const connections = new Map<string, Connection>();
  let stopping = false;

  const event = (
    routeKey: string,
    eventType: string,
    connectionId: string,
    connection: Connection,
    extra: Record<string, unknown> = {},
  ) => {
    const now = Date.now();
    return {
      requestContext: {
        routeKey,
        eventType,
        messageDirection: 'IN',
        connectionId,
        connectedAt: connection.connectedAt,
        requestId: randomBytes(8).toString('base64url'),
        extendedRequestId: randomBytes(8).toString('base64url'),
        requestTime: new Date(now).toUTCString(),
        requestTimeEpoch: now,
        stage: spec.stage,
        apiId: spec.apiId,
        domainName: `${spec.apiId}.execute-api.${region}.amazonaws.com`,
        identity: { sourceIp: connection.sourceIp },
        // What the authorizer returned: principalId and its context, on every route of the connection.
        authorizer: { principalId: connection.userId, userId: connection.userId, integrationLatency: 0 },
      },
      isBase64Encoded: false,
      ...extra,
    };
  };
  const route = (routeKey: string) => spec.routes[routeKey] ?? spec.routes.$default;
  const statusOf = (result: unknown) => Number((result as { statusCode?: unknown } | null)?.statusCode ?? 200);

  async function connect(req: IncomingMessage, socket: Socket, head: Buffer, query: URLSearchParams) {
    const refuse = (status: number, reason: string) => {
      socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    };
    let userId: string;
    try {
      userId = await authorize(query.get('token') ?? undefined);
    } catch {
      return refuse(401, 'Unauthorized');
    }
    const connectionId = `${randomBytes(9).toString('base64')}=`;
    const connection: Connection = { pending: [], userId, connectedAt: Date.now(), sourceIp: req.socket.remoteAddress ?? '127.0.0.1' };
    connections.set(connectionId, connection);
    const target = spec.routes.$connect;
    try {
      const queryStringParameters = Object.fromEntries(query);
      const result = target
        ? await invoke(target, event('$connect', 'CONNECT', connectionId, connection, { headers: req.headers, queryStringParameters }))
        : null;
      if (statusOf(result) >= 300) throw new Error(`$connect answered ${statusOf(result)}`);
    } catch {
      connections.delete(connectionId);
      return refuse(403, 'Forbidden');
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      connection.socket = ws;
      for (const data of connection.pending.splice(0)) ws.send(data);
      ws.on('message', (data) => {
        const target = route('$default');
        if (target) void invoke(target, event('$default', 'MESSAGE', connectionId, connection, { body: data.toString() })).catch(() => {});
      });
      ws.on('close', () => {
        connections.delete(connectionId);
        const target = spec.routes.$disconnect;
        // A stack shutting down closes every socket: its functions are stopping too.
        if (target && !stopping) void invoke(target, event('$disconnect', 'DISCONNECT', connectionId, connection)).catch(() => {});
      });
    });
  }

  // The management API: what @aws-sdk/client-apigatewaymanagementapi calls, with API Gateway's answers.
  const management: Server = createServer((req, res) => {
    const match = /^\/([^/]+)\/([^/]+)\/@connections\/([^/?]+)$/.exec(req.url ?? '');
    const connectionId = match ? decodeURIComponent(match[3] as string) : '';
    const connection = match?.[1] === spec.apiId && match[2] === spec.stage ? connections.get(connectionId) : undefined;
    const answer = (status: number, body: unknown, errorType?: string) => {
      res.writeHead(status, { 'content-type': 'application/json', ...(errorType ? { 'x-amzn-errortype': errorType } : {}) });
      res.end(JSON.stringify(body));
    };
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (!connection) return answer(410, { message: null }, 'GoneException');
      if (req.method === 'GET') {
        return answer(200, { connectedAt: new Date(connection.connectedAt).toISOString(), identity: { sourceIp: connection.sourceIp } });
      }
      if (req.method === 'DELETE') {
        connection.socket?.close(1000);
        return answer(204, {});
      }
      const data = Buffer.concat(chunks).toString('utf8');
      if (connection.socket) connection.socket.send(data);
      else connection.pending.push(data);
      answer(200, {});
    });
  });
  await new Promise<void>((resolve) => management.listen(0, '127.0.0.1', resolve));

  return {
    handleUpgrade(req, socket, head) {
      const url = new URL(req.url ?? '/', 'http://local');
      if (url.pathname !== `/${spec.stage}`) return false;
      void connect(req, socket, head, url.searchParams).catch(() => socket.destroy());
      return true;
    },
    managementEndpoint: `http://127.0.0.1:${(management.address() as AddressInfo).port}`,
    async stop() {
      stopping = true;
      for (const { socket } of connections.values()) socket?.terminate();
      wss.close();
      await new Promise<void>((resolve) => {
        management.close(() => resolve());
        management.closeAllConnections();
      });
    },
  };
}
