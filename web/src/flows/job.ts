import { isTerminal } from '../../../lambdas/domain/jobs';
import type { Api, Job } from '../api';
import { LiveConnection, type LiveMessage } from '../live';
import { originalUrl } from '../originals';
import { movedPosition } from '../queue-position';
import type { AppStore } from '../state';
import { Watcher } from '../watcher';

/** What the job flow needs from the screen (kept out of the flow so it stays DOM-free). */
export interface JobUi {
  focusJob(): void;
  focusTools(): void;
  notify(message: string): void;
  confirmCancel(job: Job): Promise<boolean>;
  describeError(error: unknown): string;
}

/** The job this device shows, remembered across reloads; `created` is false until the S3 event made it. */
interface Remembered {
  jobId: string;
  created: boolean;
}

/** Polling while events are pushed: a safety net only. Without the channel, once a second. */
const FALLBACK_POLL_MS = 30_000;
const POLL_MS = 1000;

/**
 * The current job: waiting for the S3 event to create it, following it to the end, cancelling it,
 * restoring it after a reload. The only reads are ones that answer 200 on normal paths: before the job
 * exists the newest page of the history is read (a `GET /jobs/{id}` would be a 404 the browser logs).
 */
export function jobFlow(
  store: AppStore,
  api: Api,
  ui: JobUi,
  hooks: { ended(): void; created(): void; userKey(): string },
  /** The push channel; without it the job is polled once a second. */
  live?: { url: string; token(): Promise<string | null> },
) {
  let watcher: Watcher | null = null;
  // A (re)connection may have missed events: one read catches up. A drop: polling speeds up at once.
  const channel = live ? new LiveConnection(live.url, live.token, { message: onLive, status: () => watcher?.wake() }) : null;
  const pace = () => (channel?.connected ? FALLBACK_POLL_MS : POLL_MS);

  const remember = (value: Remembered | null) => {
    try {
      if (value) localStorage.setItem(hooks.userKey(), JSON.stringify(value));
      else localStorage.removeItem(hooks.userKey());
    } catch {
      /* not remembered */
    }
  };
  const remembered = (): Remembered | null => {
    try {
      const raw = localStorage.getItem(hooks.userKey());
      const value = raw ? (JSON.parse(raw) as Remembered) : null;
      return typeof value?.jobId === 'string' ? value : null;
    } catch {
      return null;
    }
  };

  function stopWatching() {
    watcher?.stop();
    watcher = null;
  }

  function stop() {
    stopWatching();
    channel?.close();
  }

  function ended() {
    stop();
    hooks.ended();
  }

  /** A pushed event: the shown job's new state, or the queue moving ahead of it (its position, computed here). */
  function onLive(message: LiveMessage) {
    const phase = store.get().phase;
    if (message.type === 'queue') {
      if (phase.kind !== 'job' || phase.job.status !== 'queued') return;
      const position = movedPosition(phase.job, message);
      if (position !== phase.job.position) store.set({ phase: { ...phase, job: { ...phase.job, position } } });
      return;
    }
    // A finished job's download links come from one read (the api function signs them); a live one has none.
    const pushed = message.job;
    if (isTerminal(pushed.status)) {
      if (showing(pushed.jobId))
        void api.job(pushed.jobId).then(
          (job) => job && isTerminal(job.status) && onJob(job),
          () => watcher?.wake(),
        );
      return;
    }
    onJob({ ...pushed, outputs: [] });
  }

  function onJob(job: Job) {
    const phase = store.get().phase;
    if (phase.kind === 'creating' && phase.jobId === job.jobId) {
      remember({ jobId: job.jobId, created: true });
      setJob(job);
      hooks.created();
      if (isTerminal(job.status)) ended();
      else follow(job.jobId);
    } else if (phase.kind === 'job' && phase.job.jobId === job.jobId && !isTerminal(phase.job.status)) {
      setJob(job);
      if (isTerminal(job.status)) ended();
    }
  }

  const showing = (jobId: string) => {
    const phase = store.get().phase;
    return (phase.kind === 'creating' && phase.jobId === jobId) || (phase.kind === 'job' && phase.job.jobId === jobId);
  };

  /** Puts a job on screen; a finished image result gets this device's original for the slider. */
  function setJob(job: Job) {
    const phase = store.get().phase;
    const before = phase.kind === 'job' && phase.job.jobId === job.jobId ? phase.before : undefined;
    store.set({ phase: { kind: 'job', job, before } });
    if (job.status === 'queued' && store.get().capacity === null) {
      void api.queue().then(
        ({ capacity }) => store.set({ capacity }),
        () => {},
      );
    }
    if (job.status === 'succeeded' && !before && job.outputs[0]?.contentType.startsWith('image/')) {
      void originalUrl(job.jobId).then((url) => {
        const now = store.get().phase;
        if (url && now.kind === 'job' && now.job.jobId === job.jobId) store.set({ phase: { ...now, before: url } });
      });
    }
  }

  function follow(jobId: string) {
    stopWatching();
    channel?.open();
    watcher = new Watcher(
      async () => {
        if (!showing(jobId)) return false;
        const job = await api.job(jobId);
        if (!job || !showing(jobId)) return showing(jobId);
        // An event may have told more already: a poll answered earlier never takes a finished job back.
        const phase = store.get().phase;
        if (phase.kind === 'job' && isTerminal(phase.job.status)) return false;
        setJob(job);
        if (isTerminal(job.status)) {
          ended();
          return false;
        }
        return true;
      },
      { visibleMs: pace, hiddenMinMs: 5000, hiddenMaxMs: 60_000 },
    ).start();
  }

  /** After the upload: the job appears in the history once the S3 event has created it. */
  function waitCreated(jobId: string) {
    stopWatching();
    channel?.open();
    remember({ jobId, created: false });
    store.set({ phase: { kind: 'creating', jobId, slow: false } });
    const since = Date.now();
    watcher = new Watcher(
      async () => {
        if (!showing(jobId)) return false;
        const { jobs } = await api.jobs(5);
        const job = jobs.find((j) => j.jobId === jobId);
        const phase = store.get().phase;
        if (phase.kind !== 'creating' || phase.jobId !== jobId) return false;
        if (!job) {
          if (!phase.slow && Date.now() - since > 15_000) store.set({ phase: { ...phase, slow: true } });
          return true;
        }
        remember({ jobId, created: true });
        setJob(job);
        hooks.created();
        if (isTerminal(job.status)) ended();
        else follow(jobId);
        return false;
      },
      { visibleMs: pace, hiddenMinMs: 5000, hiddenMaxMs: 60_000 },
    ).start();
  }

  function show(job: Job, focus = false) {
    stopWatching();
    remember({ jobId: job.jobId, created: true });
    setJob(job);
    if (!isTerminal(job.status)) follow(job.jobId);
    else channel?.close();
    if (focus) ui.focusJob();
  }

  async function restore() {
    try {
      const active = await api.activeJob();
      const phase = store.get().phase;
      if (active) {
        if (!showing(active.jobId) && phase.kind !== 'uploading' && phase.kind !== 'creating') show(active);
        return;
      }
      const last = remembered();
      if (!last || store.get().phase.kind !== 'idle') return;
      if (!last.created) return waitCreated(last.jobId);
      const job = await api.job(last.jobId);
      if (job && store.get().phase.kind === 'idle') show(job);
      else if (!job) remember(null);
    } catch {
      /* the next visibility change tries again */
    }
  }

  function dismiss() {
    stop();
    store.set({ phase: { kind: 'idle' } });
    remember(null);
    ui.focusTools();
    // A job viewed from history may have hidden the one still in flight: bring that back.
    void restore();
  }

  async function cancel(job: Job) {
    const latest = (await api.job(job.jobId).catch(() => null)) ?? job;
    if (isTerminal(latest.status)) return show(latest);
    if (!(await ui.confirmCancel(latest))) return;
    try {
      show(await api.cancel(latest.jobId), true);
    } catch (error) {
      ui.notify(ui.describeError(error));
      const fresh = await api.job(latest.jobId).catch(() => null);
      if (fresh) show(fresh);
    }
    hooks.ended();
  }

  /** "Liberar fila": cancels the user's queued jobs; answers what became of `job`. */
  async function releaseQueue(job: Job) {
    const { cancelled } = await api.releaseQueue();
    const fresh = await api.job(job.jobId).catch(() => null);
    const phase = store.get().phase;
    if (phase.kind === 'job' && cancelled.includes(phase.job.jobId)) {
      const mine = phase.job.jobId === job.jobId ? fresh : await api.job(phase.job.jobId).catch(() => null);
      if (mine) show(mine);
    }
    hooks.ended();
    return { cancelled: cancelled.length, job: fresh };
  }

  return { show, waitCreated, restore, dismiss, cancel, releaseQueue, stop };
}

export type JobFlow = ReturnType<typeof jobFlow>;
