/** The HTTP API's routes: CDK creates them, the local adapter matches them, the api handler dispatches on them. */
export const ROUTES = [
  { method: 'GET', path: '/api/health', auth: false },
  { method: 'POST', path: '/api/uploads', auth: true },
  { method: 'GET', path: '/api/jobs/active', auth: true },
  { method: 'GET', path: '/api/jobs/{jobId}', auth: true },
  { method: 'GET', path: '/api/jobs', auth: true },
  { method: 'GET', path: '/api/credits', auth: true },
  { method: 'GET', path: '/api/credits/ledger', auth: true },
  { method: 'POST', path: '/api/jobs/{jobId}/cancel', auth: true },
  { method: 'POST', path: '/api/queue/release', auth: true },
  { method: 'GET', path: '/api/queue', auth: true },
  { method: 'GET', path: '/api/push/key', auth: true },
  { method: 'PUT', path: '/api/push/subscription', auth: true },
  { method: 'DELETE', path: '/api/push/subscription', auth: true },
  // Resumable (multipart) uploads: the parts S3 holds plus fresh URLs for the rest; completing after the server's check.
  { method: 'GET', path: '/api/uploads/{jobId}/{slot}/parts', auth: true },
  { method: 'POST', path: '/api/uploads/{jobId}/{slot}/complete', auth: true },
  // The provider has no user token: the per-task secret in the query string is the credential.
  { method: 'POST', path: '/api/provider/callback/{jobId}', auth: false },
] as const;

export type Route = (typeof ROUTES)[number];
type KeyOf<R> = R extends { method: infer M extends string; path: infer P extends string } ? `${M} ${P}` : never;
export type RouteKey = KeyOf<Route>;
export const routeKey = (route: Route): RouteKey => `${route.method} ${route.path}` as RouteKey;
