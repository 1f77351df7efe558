/// <reference lib="webworker" />
/**
 * The installed app's service worker: an offline shell (the build's files, precached under a cache named after the
 * build), an update that waits for the user's "Update", and the notification when a job ends (Web Push).
 * `/api/*` and `/s3/*` are never cached: answers about jobs and credits are always the server's.
 */
declare const self: ServiceWorkerGlobalScope;

export {}; // a module, so that `self` above is this file's own declaration

/** Filled in at build time (web/service-worker.ts): the build's files and a hash of them. */
declare const __PRECACHE__: string[];
declare const __BUILD__: string;

const PREFIX = 'ghostless-shell-';
const CACHE = `${PREFIX}${__BUILD__}`;
const SHELL = '/index.html';
/** Per-stage files that can change without a new build: the network first, the cache offline. */
const NETWORK_FIRST = new Set([SHELL, '/config.js', '/manifest.webmanifest']);

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(__PRECACHE__)));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('message', (event) => {
  if ((event.data as { type?: string } | null)?.type === 'skipWaiting') void self.skipWaiting();
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith('/api/') || url.pathname.startsWith('/s3/')) return;
  if (request.mode === 'navigate') {
    event.respondWith(networkFirst(request, SHELL));
  } else if (NETWORK_FIRST.has(url.pathname)) {
    event.respondWith(networkFirst(request, url.pathname));
  } else {
    event.respondWith(caches.match(request, { cacheName: CACHE }).then((hit) => hit ?? fetch(request)));
  }
});

async function networkFirst(request: Request, cached: string): Promise<Response> {
  try {
    const response = await fetch(request);
    if (response.ok && request.mode !== 'navigate') await (await caches.open(CACHE)).put(cached, response.clone());
    return response;
  } catch (error) {
    const hit = await caches.match(cached, { cacheName: CACHE });
    if (hit) return hit;
    throw error;
  }
}

interface PushPayload {
  jobId: string;
  status: string;
  title: string;
  body: string;
}

self.addEventListener('push', (event) => {
  let payload: PushPayload;
  try {
    payload = event.data?.json() as PushPayload;
  } catch {
    return;
  }
  if (!payload?.jobId) return;
  event.waitUntil(
    self.registration.showNotification(payload.title, {
      body: payload.body,
      tag: `job-${payload.jobId}`,
      icon: '/icons/icon-192.png',
      badge: '/icons/icon-192.png',
      data: { jobId: payload.jobId, status: payload.status },
    }),
  );
});

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const jobId = (event.notification.data as { jobId?: string } | null)?.jobId;
  const target = jobId ? `/?job=${encodeURIComponent(jobId)}` : '/';
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
      const open = windows.find((client) => new URL(client.url).origin === self.location.origin);
      if (open) {
        // The app is open: it shows the job itself, without a reload.
        open.postMessage({ type: 'open-job', jobId });
        await open.focus();
      } else {
        await self.clients.openWindow(target);
      }
    })(),
  );
});
