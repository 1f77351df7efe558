import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sirv, { type RequestHandler } from 'sirv';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const defaultWebRoot = (): string => {
  const dist = join(ROOT, 'web', 'dist');
  return existsSync(join(dist, 'index.html')) ? dist : join(ROOT, 'web');
};

/** Vite's hashed asset names (`index-3fA9x_Qb.js`) never change content: cache them for a year, revalidate the rest. */
const HASHED = /[.-][0-9a-zA-Z_-]{8,}\.\w+$/;

const servers = new Map<string, RequestHandler>();

/** One sirv per web root; `dev` mode looks files up per request, so a rebuilt `web/dist` is served at once. */
function serverFor(root: string): RequestHandler {
  let server = servers.get(root);
  if (!server) {
    server = sirv(root, {
      dev: true,
      etag: true,
      // Client-side routes (no extension) get index.html; a missing asset stays 404.
      single: true,
      setHeaders: (res, pathname) => {
        res.setHeader(
          'cache-control',
          HASHED.test(pathname) && !pathname.endsWith('.html') ? 'public, max-age=31536000, immutable' : 'no-cache',
        );
      },
    });
    servers.set(root, server);
  }
  return server;
}

function notFound(res: ServerResponse): void {
  res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
  res.end('Not Found');
}

/** The SPA's files under `webRoot()`, GET and HEAD only (CloudFront's allowed methods for the web origin). */
export async function serveStaticFile(req: IncomingMessage, res: ServerResponse, webRoot: () => string): Promise<void> {
  const method = req.method ?? 'GET';
  if (method !== 'GET' && method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
    res.end('Method Not Allowed');
    return;
  }
  serverFor(resolve(webRoot()))(req, res, () => notFound(res));
}
