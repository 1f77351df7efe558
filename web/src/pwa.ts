import type { Api } from './api';
import { mount } from './dom';
import { canPush, pushFlow, waitingJobId } from './flows/push';
import { t } from './i18n';
import type { AppStore } from './state';
import { watch } from './store';
import { pushOffer, updateBanner } from './views/pwa-bars';

export interface PwaDeps {
  store: AppStore;
  api: Api;
  /** Shows a job by id (a notification was tapped, or the app was opened at `/?job=<id>`). */
  openJob(jobId: string): void;
  notify(message: string): void;
}

/**
 * The installed app: registers the service worker (built with the app, `/sw.js`), offers a waiting update, offers
 * to notify when the current job ends, and opens the job a notification names.
 */
export function startPwa(root: HTMLElement, { store, api, openJob, notify }: PwaDeps) {
  const bars = document.createElement('div');
  bars.className = 'pwa-bars';
  root.append(bars);
  let waiting: ServiceWorker | null = null;
  let subscribed = false;
  let dismissed: string | null = null;
  /** The offer needs a worker to receive the push: none in the dev server, none where registration failed. */
  let registered = false;
  const push = pushFlow(api);

  const render = () => {
    const jobId = store.get().session ? waitingJobId(store.get().phase) : null;
    const offer = registered && jobId && !subscribed && dismissed !== jobId && canPush();
    mount(
      bars,
      waiting && updateBanner(update),
      offer &&
        pushOffer(
          () => void accept(),
          () => {
            dismissed = jobId;
            render();
          },
        ),
    );
  };
  const update = () => {
    waiting?.postMessage({ type: 'skipWaiting' });
  };
  const accept = async () => {
    dismissed = waitingJobId(store.get().phase);
    render();
    try {
      subscribed = await push.subscribe();
      if (subscribed) notify(t().pushOn);
    } catch {
      notify(t().pushFailed);
    }
    render();
  };
  watch(store, (s) => `${s.lang}|${s.session?.userId ?? ''}|${waitingJobId(s.phase) ?? ''}`, render);

  // Opened from a notification: `/?job=<id>`, once signed in.
  const fromUrl = new URLSearchParams(location.search).get('job');
  if (fromUrl) {
    history.replaceState(history.state, '', location.pathname);
    const stop = watch(
      store,
      (s) => String(!!s.session),
      (s) => {
        if (!s.session) return;
        queueMicrotask(() => stop());
        openJob(fromUrl);
      },
    );
  }

  if (!('serviceWorker' in navigator) || !import.meta.env.PROD) return;
  const sw = navigator.serviceWorker;
  sw.addEventListener('message', (event) => {
    const data = event.data as { type?: string; jobId?: string } | null;
    if (data?.type === 'open-job' && data.jobId) openJob(data.jobId);
  });
  // The new worker took over after "Update": load the new build.
  let reloading = false;
  sw.addEventListener('controllerchange', () => {
    if (!reloading && waiting) {
      reloading = true;
      location.reload();
    }
  });
  const offerUpdate = (worker: ServiceWorker | null) => {
    if (!worker || !sw.controller) return; // the first install is not an update
    waiting = worker;
    render();
  };
  void sw.register('/sw.js', { updateViaCache: 'none' }).then(
    (registration) => {
      offerUpdate(registration.waiting);
      registration.addEventListener('updatefound', () => {
        const installing = registration.installing;
        installing?.addEventListener('statechange', () => {
          if (installing.state === 'installed') offerUpdate(installing);
        });
      });
      registered = true;
      // Signed in on a device that said yes before: the subscription is stored again (language, expiry).
      watch(
        store,
        (s) => `${s.session?.userId ?? ''}|${s.lang}`,
        (s) => {
          if (!s.session) return;
          void push.refresh().then(
            (on) => {
              subscribed = on;
              render();
            },
            () => {},
          );
        },
      );
    },
    () => {},
  );
}
