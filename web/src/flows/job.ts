import { isTerminal } from '../../../lambdas/domain/jobs';
import type { Api, Job } from '../api';
import { originalUrl } from '../originals';
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

/**
 * The current job: waiting for the S3 event to create it, following it to the end, cancelling it,
 * restoring it after a reload. The only reads are ones that answer 200 on normal paths: before the job
 * exists the newest page of the history is read (a `GET /jobs/{id}` would be a 404 the browser logs).
 */
export function jobFlow(store: AppStore, api: Api, ui: JobUi, hooks: { ended(): void; created(): void; userKey(): string }) {
  let watcher: Watcher | null = null;

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

  function stop() {
    watcher?.stop();
    watcher = null;
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
    stop();
    watcher = new Watcher(
      async () => {
        if (!showing(jobId)) return false;
        const job = await api.job(jobId);
        if (!job || !showing(jobId)) return showing(jobId);
        setJob(job);
        if (isTerminal(job.status)) {
          hooks.ended();
          return false;
        }
        return true;
      },
      { visibleMs: 1000, hiddenMinMs: 5000, hiddenMaxMs: 60_000 },
    ).start();
  }

  /** After the upload: the job appears in the history once the S3 event has created it. */
  function waitCreated(jobId: string) {
    stop();
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
        if (isTerminal(job.status)) hooks.ended();
        else follow(jobId);
        return false;
      },
      { visibleMs: 1000, hiddenMinMs: 5000, hiddenMaxMs: 60_000 },
    ).start();
  }

  function show(job: Job, focus = false) {
    stop();
    remember({ jobId: job.jobId, created: true });
    setJob(job);
    if (!isTerminal(job.status)) follow(job.jobId);
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
