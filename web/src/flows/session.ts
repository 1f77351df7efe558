import type { Api } from '../api';
import type { CognitoAuth, LocalAuth } from '../auth-clients';
import { t } from '../i18n';
import { type AppStore, emptyHistory, emptyLedger } from '../state';
import type { JobFlow } from './job';

const HISTORY_PAGE = 10;
const LEDGER_PAGE = 10;

/** Signing in and out, and what the signed-in screen loads: balance, history, the job to come back to. */
export function sessionFlow(store: AppStore, api: Api, auth: LocalAuth | CognitoAuth, jobs: () => JobFlow) {
  /** The balance, and with it the statement that explains it. */
  async function refreshBalance() {
    try {
      store.set({ balance: await api.credits() });
    } catch {
      /* shown as unknown */
    }
    await refreshLedger();
  }

  let ledgerAgain = false;
  async function refreshLedger(more = false): Promise<void> {
    const ledger = store.get().ledger;
    if (ledger.loading) {
      if (!more) ledgerAgain = true;
      return;
    }
    const setLedger = (patch: Partial<typeof ledger>) => store.set((s) => ({ ledger: { ...s.ledger, ...patch } }));
    setLedger({ loading: true });
    try {
      const page = await api.ledger(LEDGER_PAGE, more ? ledger.nextCursor : null);
      setLedger({
        entries: more ? [...store.get().ledger.entries, ...page.entries] : page.entries,
        nextCursor: page.nextCursor,
        loaded: true,
      });
    } catch {
      /* keep what we had */
    } finally {
      setLedger({ loading: false });
    }
    if (ledgerAgain) {
      ledgerAgain = false;
      return refreshLedger();
    }
  }

  let historyAgain = false;
  async function refreshHistory(more = false): Promise<void> {
    const history = store.get().history;
    if (history.loading) {
      // A refresh asked for during a load (a job just ended) runs after it, so the list is never stale.
      if (!more) historyAgain = true;
      return;
    }
    const setHistory = (patch: Partial<typeof history>) => store.set((s) => ({ history: { ...s.history, ...patch } }));
    setHistory({ loading: true });
    try {
      const page = await api.jobs(HISTORY_PAGE, more ? history.nextCursor : null);
      setHistory({ jobs: more ? [...store.get().history.jobs, ...page.jobs] : page.jobs, nextCursor: page.nextCursor, loaded: true });
    } catch {
      /* keep what we had */
    } finally {
      setHistory({ loading: false });
    }
    if (historyAgain) {
      historyAgain = false;
      return refreshHistory();
    }
  }

  async function enter() {
    store.set({ session: auth.session(), signInNotice: null });
    await Promise.all([refreshBalance(), refreshHistory(), jobs().restore()]);
  }

  function leave(notice: string | null) {
    jobs().stop();
    const phase = store.get().phase;
    if (phase.kind === 'uploading') phase.abort();
    store.set({
      session: auth.session(),
      signInNotice: notice,
      phase: { kind: 'idle' },
      balance: null,
      history: emptyHistory(),
      ledger: emptyLedger(),
      formError: null,
      submitting: false,
    });
  }

  return {
    enter,
    refreshBalance,
    refreshHistory,
    refreshLedger,
    signOut() {
      auth.signOut();
      leave(null);
    },
    /** Every token issued to this user, on any device, stops working; then signed out here. */
    async signOutEverywhere() {
      await auth.signOutEverywhere();
      leave(t().signedOutEverywhere);
    },
    /** A 401: the token expired or was revoked. */
    sessionOver() {
      auth.clear();
      leave(t().sessionExpired);
    },
    /** Local stack only: the test "+20 credits" button. */
    async addCredits() {
      if (auth.kind !== 'local') return;
      const balance = await (auth as LocalAuth).setBalance((await api.credits()) + 20);
      store.set({ balance });
      void refreshLedger();
      return balance;
    },
  };
}
