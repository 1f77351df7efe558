/** The HTTP API's routes: CDK creates them, the local adapter matches them, the api handler dispatches on them. */
export const ROUTES = [
  { method: 'GET', path: '/api/health', auth: false },
  { method: 'POST', path: '/api/uploads', auth: true },
  { method: 'GET', path: '/api/jobs/active', auth: true },
  { method: 'GET', path: '/api/jobs/{jobId}', auth: true },
  { method: 'GET', path: '/api/jobs', auth: true },
  { method: 'GET', path: '/api/credits', auth: true },
] as const;

export type Route = (typeof ROUTES)[number];
type KeyOf<R> = R extends { method: infer M extends string; path: infer P extends string } ? `${M} ${P}` : never;
export type RouteKey = KeyOf<Route>;
export const routeKey = (route: Route): RouteKey => `${route.method} ${route.path}` as RouteKey;
