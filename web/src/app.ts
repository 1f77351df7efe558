import { isTerminal } from '../../lambdas/domain/jobs';
import { type Api, createApi } from './api';
import { type CognitoAuth, createAuth, type LocalAuth } from './auth-clients';
import type { GhostlessConfig } from './config';
import { h, mount, rebuild } from './dom';
import { jobFlow } from './flows/job';
import { sessionFlow } from './flows/session';
import { submitFlow } from './flows/submit';
import { lang, setLang, t } from './i18n';
import { startPwa } from './pwa';
import { createAppStore, rememberTool } from './state';
import { watch } from './store';
import { activeJobDialog, confirmDialog } from './views/dialogs';
import { mountHeader } from './views/header';
import { mountHistory } from './views/history';
import { mountJobCard } from './views/job-card';
import { mountLedger } from './views/ledger';
import { localSignIn } from './views/signin';
import { accountSignIn } from './views/signin-account';
import { mountToolForm } from './views/tool-form';
import { describeApiError } from './words';

/** Wires the store, the flows and the views; holds no logic of its own beyond focus and the toast. */
export function startApp(config: GhostlessConfig, root: HTMLElement) {
  const auth = createAuth(config);
  const store = createAppStore(auth.session());
  const api: Api = createApi({ base: config.apiBase, token: () => auth.token(), onUnauthorized: () => session.sessionOver() });

  // --- layout -------------------------------------------------------------------------------
  const header = h('header', { class: 'topbar' });
  // Focusable only as the skip link's target: nothing focuses it on load (no stray outline).
  const main = h('main', { id: 'main', tabindex: '-1' });
  const toast = h('div', { class: 'toast', role: 'status', 'aria-live': 'polite', hidden: true });
  const skip = h('a', { class: 'skip-link', href: '#main' });
  mount(root, skip, header, main, toast);
  const jobRegion = h('section', { class: 'job-region', 'aria-live': 'polite' });
  const toolsRegion = h('section', { class: 'card tools', 'aria-labelledby': 'tools-heading' });
  const historyRegion = h('section', { class: 'card history', 'aria-labelledby': 'history-heading' });
  const ledgerRegion = h('section', { class: 'card ledger', 'aria-labelledby': 'ledger-heading' });
  const signedIn = h('p', { class: 'muted small', 'data-testid': 'footer' });
  const footer = h(
    'div',
    { class: 'footer' },
    signedIn,
    h(
      'button',
      { type: 'button', class: 'ghost-button small', 'data-testid': 'sign-out-everywhere', onClick: () => void signOutEverywhere() },
      '',
    ),
  );

  let toastTimer: ReturnType<typeof setTimeout> | undefined;
  const notify = (message: string) => {
    toast.textContent = message;
    toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => {
      toast.hidden = true;
    }, 6000);
  };
  document.addEventListener('ghostless:dialog', () => {
    toast.hidden = true;
  });
  const focusJob = () => {
    jobRegion.scrollIntoView({ block: 'start', behavior: 'smooth' });
    queueMicrotask(() => jobRegion.querySelector<HTMLElement>('#job-heading')?.focus({ preventScroll: true }));
  };
  const focusTools = () => toolsRegion.querySelector<HTMLElement>('#tools-heading')?.focus();

  // --- flows --------------------------------------------------------------------------------
  const jobs = jobFlow(
    store,
    api,
    {
      focusJob,
      focusTools,
      notify,
      describeError: describeApiError,
      confirmCancel: (job) => {
        const text = t();
        return confirmDialog(
          text.confirmTitle,
          job.status === 'queued' ? text.confirmQueued(job.creditCost) : text.confirmRunning(job.creditCost),
          job.status === 'running',
        );
      },
    },
    {
      userKey: () => `ghostless.currentJob.${store.get().session?.userId ?? ''}`,
      created: () => void session.refreshBalance(),
      ended: () => {
        void session.refreshBalance();
        void session.refreshHistory();
      },
    },
    { url: config.liveUrl, token: () => auth.token() },
  );
  const session = sessionFlow(store, api, auth, () => jobs);
  const signOutEverywhere = () => session.signOutEverywhere().catch(() => notify(t().signOutEverywhereFailed));
  const sending = submitFlow(store, api, config, () => jobs, {
    focusJob,
    focusMissing: (slot) => toolsRegion.querySelector<HTMLElement>(`#file-${store.get().tool}-${slot}`)?.focus(),
    activeJobDialog: (active) =>
      activeJobDialog(active, {
        view: (job) => jobs.show(job, true),
        releaseQueue: (job) => jobs.releaseQueue(job),
        sendNow: () => void sending.submit(),
      }),
  });

  // --- views --------------------------------------------------------------------------------
  mountHeader(header, store, {
    toggleLang: () => {
      setLang(lang() === 'en' ? 'pt-BR' : 'en');
      store.set({ lang: lang() });
    },
    signOut: () => session.signOut(),
  });
  watch(
    store,
    (s) => `${s.lang}|${s.session?.userId ?? ''}|${s.session?.label ?? ''}|${s.signInNotice}`,
    (s) => {
      document.documentElement.lang = s.lang;
      skip.textContent = t().skipToContent;
      jobRegion.setAttribute('aria-label', t().resultHeading);
      if (!s.session) {
        const done = async () => {
          await session.enter();
          // Signed in by hand: on to the tools (a reload leaves focus alone).
          focusTools();
        };
        rebuild(
          main,
          auth.kind === 'local'
            ? localSignIn(auth as LocalAuth, s.signInNotice, done)
            : accountSignIn(auth as CognitoAuth, s.signInNotice, done),
        );
        return;
      }
      if (!main.contains(toolsRegion)) mount(main, jobRegion, toolsRegion, historyRegion, ledgerRegion, footer);
      signedIn.textContent = t().signedInAs(s.session.label);
      (footer.lastElementChild as HTMLElement).textContent = t().signOutEverywhere;
    },
  );
  mountJobCard(jobRegion, store, {
    cancelUpload: () => {
      const phase = store.get().phase;
      if (phase.kind === 'uploading') phase.abort();
    },
    cancelJob: (job) => void jobs.cancel(job),
    dismissJob: () => jobs.dismiss(),
  });
  mountToolForm(toolsRegion, store, config.limits, {
    chooseTool: (tool) => {
      rememberTool(tool);
      store.set({ tool, formError: null });
    },
    setParam: (name, value) =>
      store.set((s) => ({ params: { ...s.params, [s.tool]: { ...s.params[s.tool], [name]: value } }, formError: null })),
    chooseFile: (slot, file) =>
      store.set((s) => ({ files: { ...s.files, [s.tool]: { ...s.files[s.tool], [slot]: file } }, formError: null })),
    submit: () => void sending.submit(),
    addCredits:
      auth.kind === 'local'
        ? () =>
            void session.addCredits().then(
              (balance) => balance !== undefined && notify(t().addCreditsDone(balance)),
              (error) => store.set({ formError: describeApiError(error) }),
            )
        : null,
  });
  mountHistory(historyRegion, store, { open: (job) => jobs.show(job, true), refresh: (more) => void session.refreshHistory(more) });
  mountLedger(ledgerRegion, store, { more: () => void session.refreshLedger(true) });

  // Coming back to the tab (or from the back-forward cache): catch up on the balance and the job.
  const onReturn = () => {
    if (document.visibilityState !== 'visible' || !store.get().session) return;
    void session.refreshBalance();
    const phase = store.get().phase;
    if (phase.kind === 'idle' || (phase.kind === 'job' && isTerminal(phase.job.status))) void jobs.restore();
  };
  document.addEventListener('visibilitychange', onReturn);
  window.addEventListener('pageshow', (event) => {
    if (event.persisted) onReturn();
  });

  startPwa(root, {
    store,
    api,
    notify,
    openJob: (jobId) =>
      void api.job(jobId).then(
        (job) => job && jobs.show(job, true),
        () => {},
      ),
  });

  return store.get().session ? session.enter() : Promise.resolve();
}
