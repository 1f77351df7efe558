import { type Params, TOOLS, type ToolId } from '../../lambdas/domain/catalog';
import { isTerminal, type Job } from '../../lambdas/domain/jobs';
import type { LedgerEntry } from './api';
import type { Session } from './auth-clients';
import { type Lang, lang, t } from './i18n';
import { createStore, type Store } from './store';

/** Everything the views show, in one object; the flows change it, the views subscribe to it. */

export const TOOL_ORDER: ToolId[] = ['upscale-image', 'upscale-video', 'pose-changer', 'try-on'];

export interface UploadRow {
  slot: string;
  fileName: string;
  loaded: number;
  total: number;
  done: boolean;
  /** Bytes per second lately, and the time left at that pace (null until measured). */
  speed?: number | null;
  secondsLeft?: number | null;
  /** Bytes a resumed upload found already stored. */
  resumedBytes?: number;
}

export type Phase =
  | { kind: 'idle' }
  | { kind: 'uploading'; jobId: string; rows: UploadRow[]; abort(): void }
  | { kind: 'creating'; jobId: string; slow: boolean }
  | { kind: 'job'; job: Job /** This device's copy of the input, for the before/after slider. */; before?: string };

export interface History {
  jobs: Job[];
  nextCursor: string | null;
  loading: boolean;
  loaded: boolean;
}

export interface Ledger {
  entries: LedgerEntry[];
  nextCursor: string | null;
  loading: boolean;
  loaded: boolean;
}

export interface AppState {
  lang: Lang;
  session: Session | null;
  /** Why the sign-in screen is shown again (a 401), if it is. */
  signInNotice: string | null;
  balance: number | null;
  tool: ToolId;
  params: Record<ToolId, Params>;
  files: Record<ToolId, Record<string, File | undefined>>;
  /** Between "Enviar" and the end of the upload: the form does not take a second press. */
  submitting: boolean;
  /** An error about what the user just did; cleared as soon as they change the form. */
  formError: string | null;
  phase: Phase;
  history: History;
  /** The credit statement (GET /credits/ledger), refreshed with the balance. */
  ledger: Ledger;
  /** How many jobs run at once (GET /queue), for the wait estimate; read once, when a job waits. */
  capacity: number | null;
}

export type AppStore = Store<AppState>;

const TOOL_KEY = 'ghostless.tool';

function storedTool(): ToolId {
  try {
    const stored = localStorage.getItem(TOOL_KEY);
    return TOOL_ORDER.find((id) => id === stored) ?? 'upscale-image';
  } catch {
    return 'upscale-image';
  }
}

/** The tool picker survives a reload. */
export function rememberTool(tool: ToolId) {
  try {
    localStorage.setItem(TOOL_KEY, tool);
  } catch {
    /* private mode: not remembered */
  }
}

export const emptyHistory = (): History => ({ jobs: [], nextCursor: null, loading: false, loaded: false });
export const emptyLedger = (): Ledger => ({ entries: [], nextCursor: null, loading: false, loaded: false });

export function createAppStore(session: Session | null): AppStore {
  return createStore<AppState>({
    lang: lang(),
    session,
    signInNotice: null,
    balance: null,
    tool: storedTool(),
    params: { 'upscale-image': { scale: 2 }, 'upscale-video': { scale: 2 }, 'pose-changer': {}, 'try-on': { category: 'top' } },
    files: { 'upscale-image': {}, 'upscale-video': {}, 'pose-changer': {}, 'try-on': {} },
    submitting: false,
    formError: null,
    phase: { kind: 'idle' },
    history: emptyHistory(),
    ledger: emptyLedger(),
    capacity: null,
  });
}

export const currentCost = (s: AppState) => TOOLS[s.tool].price(s.params[s.tool]);

/** A job of this user is being sent, created, queued or run (the API allows one at a time). */
const activeJob = (s: AppState) =>
  s.phase.kind === 'uploading' || s.phase.kind === 'creating' || (s.phase.kind === 'job' && !isTerminal(s.phase.job.status));

/**
 * Why "Enviar" cannot be pressed now, derived from the state (never stored): it goes away by itself when
 * its cause does (the job ends, credits are added, a cheaper option is picked).
 */
export function blockReason(s: AppState): { kind: 'busy' | 'credits'; message: string } | null {
  const text = t();
  if (activeJob(s)) return { kind: 'busy', message: text.busyReason };
  const cost = currentCost(s);
  if (s.balance !== null && s.balance < cost) return { kind: 'credits', message: text.errInsufficient(cost, s.balance) };
  return null;
}
