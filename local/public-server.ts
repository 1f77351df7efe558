import { createServer, type IncomingMessage, type RequestListener } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * The stack's one public HTTP server on 127.0.0.1 (SPA, API, S3 gateway, WebSocket upgrades). It listens before the
 * rest of the stack starts, since the functions need its URL (presigned URLs, webhooks), and answers 503 STARTING
 * until the stack sets its listener.
 */
export interface PublicServer {
  port: number;
  url: string;
  setListener(listener: RequestListener): void;
  /** Stops listening; connections still open a second later are cut. */
  close(): Promise<void>;
}

export async function startPublicServer(
  port: number,
  onUpgrade: (req: IncomingMessage, socket: Socket, head: Buffer) => boolean,
): Promise<PublicServer> {
  const server = createServer();
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  let listener: RequestListener = (_req, res) => {
    res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' });
    res.end(JSON.stringify({ error: 'STARTING', message: 'The local stack is starting.' }));
  };
  server.on('request', (req, res) => listener(req, res));
  server.on('upgrade', (req, socket, head) => {
    if (!onUpgrade(req, socket as Socket, head)) socket.destroy();
  });
  await new Promise<void>((done, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', fail);
      done();
    });
  });
  const actualPort = (server.address() as AddressInfo).port;
  return {
    port: actualPort,
    url: `http://127.0.0.1:${actualPort}`,
    setListener(next) {
      listener = next;
    },
    close: () =>
      new Promise<void>((done) => {
        if (!server.listening) return done();
        server.close(() => done());
        server.closeIdleConnections();
        setTimeout(() => {
          for (const socket of sockets) socket.destroy();
        }, 1000).unref();
      }),
  };
}
