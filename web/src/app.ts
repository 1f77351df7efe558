import { MB, MEDIA_TYPES, type MediaKind, type Params, TOOLS, type ToolId } from '../../lambdas/domain/catalog';
import { DomainError } from '../../lambdas/domain/errors';
import { isTerminal } from '../../lambdas/domain/jobs';
import { parseUploadRequest } from '../../lambdas/domain/upload-request';
import { type Api, ApiError, createApi, type Job, type UploadRequestBody } from './api';
import { type CognitoAuth, createAuth, type LocalAuth, toUserId, USER_ID_PATTERN } from './auth';
import { compareSlider } from './compare';
import type { GhostlessConfig } from './config';
import { confirmDialog, dialog } from './dialogs';
import { type Child, h, mount, uid } from './dom';
import { formatAgo, formatBytes, formatDate, formatDuration, lang, setLang, t } from './i18n';
import { icon } from './icons';
import { cognitoSignIn } from './signin-cognito';
import { postToS3, type UploadHandle } from './upload';
import { Watcher } from './watcher';
import {
  costText,
  describeApiError,
  describeError,
  describeUploadError,
  EXTENSIONS,
  outcomeText,
  slotLabel,
  statusBadge,
  TYPE_NAMES,
} from './words';

/**
 * The whole app: one state object, a few regions rebuilt from it (header, current job, tools, history),
 * dialogs for the active-job block and cancel confirmation. No framework: regions are rebuilt only when
 * what they show changes, and focus is carried across rebuilds by `data-focus` keys.
 */

/** Some pickers leave File.type empty (or say image/jpg): fall back on the extension. */
const TYPE_BY_EXTENSION: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  mp4: 'video/mp4',
  mov: 'video/quicktime',
};
function contentTypeOf(file: File) {
  if (file.type === 'image/jpg') return 'image/jpeg';
  if (file.type) return file.type;
  return TYPE_BY_EXTENSION[file.name.split('.').pop()?.toLowerCase() ?? ''] ?? 'application/octet-stream';
}

const TOOL_ORDER: ToolId[] = ['upscale-image', 'upscale-video', 'pose-changer', 'try-on'];
const HISTORY_PAGE = 10;

interface UploadRow {
  slot: string;
  fileName: string;
  loaded: number;
  total: number;
  done: boolean;
}

type Phase =
  | { kind: 'idle' }
  | { kind: 'uploading'; jobId: string; rows: UploadRow[]; abort(): void }
  | { kind: 'creating'; jobId: string; since: number }
  | { kind: 'job'; job: Job };

interface State {
  balance: number | null;
  tool: ToolId;
  params: Record<ToolId, Params>;
  files: Record<ToolId, Record<string, File | undefined>>;
  submitting: boolean;
  phase: Phase;
  history: { jobs: Job[]; nextCursor: string | null; loading: boolean; loaded: boolean };
}

const initialParams = (): Record<ToolId, Params> => ({
  'upscale-image': { scale: 2 },
  'upscale-video': { scale: 2 },
  'pose-changer': {},
  'try-on': { category: 'top' },
});

export function startApp(config: GhostlessConfig, root: HTMLElement) {
  const auth = createAuth(config);
  const localAuth = auth.kind === 'local' ? (auth as LocalAuth) : null;
  const api: Api = createApi({ base: config.apiBase, token: () => auth.token(), onUnauthorized: () => sessionOver() });

  const state: State = {
    balance: null,
    tool: 'upscale-image',
    params: initialParams(),
    files: { 'upscale-image': {}, 'upscale-video': {}, 'pose-changer': {}, 'try-on': {} },
    submitting: false,
    phase: { kind: 'idle' },
    history: { jobs: [], nextCursor: null, loading: false, loaded: false },
  };
  /** Object URLs of the inputs chosen in this tab, for the before/after slider. */
  const beforeUrls = new Map<string, string>();
  const previews = new Map<File, string>();
  let watcher: Watcher | null = null;
  let signInNotice: string | null = null;
  let jobKey = '';

  // --- layout -------------------------------------------------------------------------------

  const header = h('header', { class: 'topbar' });
  const main = h('main', { id: 'main', tabindex: '-1' });
  const toast = h('div', { class: 'toast', role: 'status', 'aria-live': 'polite', hidden: true });
  mount(root, h('a', { class: 'skip-link', href: '#main' }, t().skipToContent), header, main, toast);

  const jobRegion = h('section', { class: 'job-region', 'aria-live': 'polite', 'aria-label': t().resultHeading });
  const toolsRegion = h('section', { class: 'card tools', 'aria-labelledby': 'tools-heading' });
  const historyRegion = h('section', { class: 'card history', 'aria-labelledby': 'history-heading' });
  const footer = h('p', { class: 'footer muted small' });

  const userKey = () => `ghostless.currentJob.${auth.session()?.userId ?? ''}`;
  const rememberJob = (jobId: string | null) => {
    try {
      if (jobId) localStorage.setItem(userKey(), jobId);
      else localStorage.removeItem(userKey());
    } catch {
      /* not remembered */
    }
  };

  /** Rebuilds a region, giving focus back to the element with the same `data-focus` key. */
  function rebuild(region: HTMLElement, ...children: Child[]) {
    const active = document.activeElement;
    const focusKey = active instanceof HTMLElement && region.contains(active) ? active.dataset.focus : undefined;
    mount(region, ...children);
    if (focusKey) region.querySelector<HTMLElement>(`[data-focus="${CSS.escape(focusKey)}"]`)?.focus();
  }

  document.addEventListener('ghostless:dialog', () => {
    toast.hidden = true;
  });
  let toastTimer: ReturnType<typeof setTimeout> | undefined;
  function notify(message: string) {
    toast.textContent = message;
    toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => {
      toast.hidden = true;
    }, 6000);
  }

  // --- header ---------------------------------------------------------------------------------

  function renderHeader() {
    const text = t();
    const session = auth.session();
    const langButton = h(
      'button',
      {
        type: 'button',
        class: 'ghost-button lang-toggle',
        lang: lang() === 'en' ? 'pt-BR' : 'en',
        'aria-label': text.langToggleLabel,
        'data-focus': 'lang',
        onClick: () => {
          setLang(lang() === 'en' ? 'pt-BR' : 'en');
          renderAll();
        },
      },
      lang() === 'en' ? 'PT' : 'EN',
    );
    rebuild(
      header,
      h('div', { class: 'brand' }, icon('ghost', 26), h('span', null, 'Ghostless')),
      h(
        'div',
        { class: 'top-actions' },
        session && state.balance !== null
          ? h(
              'span',
              { class: 'balance', 'data-testid': 'balance', 'aria-live': 'polite' },
              h('span', { class: 'visually-hidden' }, text.balancePrefix),
              text.credits(state.balance),
            )
          : null,
        langButton,
        session
          ? h(
              'button',
              {
                type: 'button',
                class: 'ghost-button icon-button',
                'data-focus': 'signout',
                'aria-label': text.signOut,
                title: `${text.signOut} (${session.label})`,
                onClick: signOut,
              },
              icon('sign-out', 22),
            )
          : null,
      ),
    );
  }

  // --- sign-in --------------------------------------------------------------------------------

  function renderSignIn() {
    const text = t();
    const error = h('p', { class: 'form-error', role: 'alert' }, signInNotice ?? '');
    if (!localAuth) {
      rebuild(
        main,
        cognitoSignIn(auth as CognitoAuth, signInNotice, () => enterAppAfterSignIn()),
      );
      return;
    }
    const inputId = uid('name');
    const previewId = uid('name-preview');
    const input = h('input', {
      id: inputId,
      name: 'name',
      type: 'text',
      autocomplete: 'username',
      autocapitalize: 'none',
      spellcheck: 'false',
      maxlength: 64,
      required: true,
      'aria-describedby': previewId,
      'data-focus': 'name',
    });
    const preview = h('p', { id: previewId, class: 'hint' }, text.signInLocalHint);
    input.addEventListener('input', () => {
      const id = toUserId(input.value);
      preview.textContent = input.value.trim() ? (USER_ID_PATTERN.test(id) ? text.signInAs(id) : text.signInInvalid) : text.signInLocalHint;
    });
    const submitButton = h('button', { type: 'submit', class: 'button primary' }, text.signInSubmit);
    const signIn = async (userId: string) => {
      if (!USER_ID_PATTERN.test(userId)) {
        error.textContent = text.signInInvalid;
        input.focus();
        return;
      }
      submitButton.disabled = true;
      try {
        await localAuth.signIn(userId);
        signInNotice = null;
        await enterApp();
      } catch (e) {
        error.textContent = e instanceof ApiError && e.status === 0 ? text.errNetwork : text.signInFailed;
        submitButton.disabled = false;
      }
    };
    const recent = localAuth.recent();
    rebuild(
      main,
      h(
        'section',
        { class: 'card signin', 'aria-labelledby': 'signin-heading' },
        h('h1', { id: 'signin-heading' }, text.signInTitle),
        h('p', { class: 'muted' }, text.appTagline),
        h(
          'form',
          {
            class: 'stack',
            novalidate: true,
            onSubmit: (event: SubmitEvent) => {
              event.preventDefault();
              void signIn(toUserId(input.value));
            },
          },
          h('label', { for: inputId, class: 'field-label' }, text.nameLabel),
          input,
          preview,
          submitButton,
          error,
        ),
        recent.length
          ? h(
              'div',
              { class: 'recent' },
              h('h2', { class: 'small-heading' }, text.recentUsers),
              h(
                'ul',
                { class: 'chips' },
                recent.map((userId) =>
                  h('li', null, h('button', { type: 'button', class: 'chip', onClick: () => void signIn(userId) }, userId)),
                ),
              ),
            )
          : null,
      ),
    );
    input.focus();
  }

  /** A 401: the token expired or was revoked. */
  function sessionOver() {
    auth.clear();
    signInNotice = t().sessionExpired;
    leaveApp();
  }

  function signOut() {
    leaveApp();
    auth.signOut();
    renderAll();
  }

  function leaveApp() {
    watcher?.stop();
    watcher = null;
    if (state.phase.kind === 'uploading') state.phase.abort();
    state.phase = { kind: 'idle' };
    state.balance = null;
    state.history = { jobs: [], nextCursor: null, loading: false, loaded: false };
    jobKey = '';
    renderAll();
  }

  // --- signed in ------------------------------------------------------------------------------

  async function enterAppAfterSignIn() {
    signInNotice = null;
    await enterApp();
  }

  async function enterApp() {
    renderAll();
    main.focus({ preventScroll: true });
    await Promise.all([refreshBalance(), refreshHistory(), restoreJob()]);
  }

  /** Leaving and coming back: the active job first; else the last job this device was showing. */
  async function restoreJob() {
    try {
      const active = await api.activeJob();
      if (active) {
        const phase = state.phase;
        const showing = phase.kind === 'job' && phase.job.jobId === active.jobId;
        if (!showing && phase.kind !== 'uploading' && phase.kind !== 'creating') showJob(active);
        return;
      }
      let remembered: string | null = null;
      try {
        remembered = localStorage.getItem(userKey());
      } catch {
        /* ignore */
      }
      if (remembered && state.phase.kind === 'idle') {
        const job = await api.job(remembered);
        if (job && state.phase.kind === 'idle') showJob(job);
        else if (!job) rememberJob(null);
      }
    } catch {
      /* the job watcher or the next visibility change will try again */
    }
  }

  async function refreshBalance() {
    try {
      state.balance = await api.credits();
      renderHeader();
      updatePrice();
    } catch {
      /* shown as unknown */
    }
  }

  let historyAgain = false;
  async function refreshHistory(more = false): Promise<void> {
    if (state.history.loading) {
      // A refresh asked for during a load (a job just ended) runs after it, so the list is never stale.
      if (!more) historyAgain = true;
      return;
    }
    state.history.loading = true;
    renderHistory();
    try {
      const page = await api.jobs(HISTORY_PAGE, more ? state.history.nextCursor : null);
      state.history.jobs = more ? [...state.history.jobs, ...page.jobs] : page.jobs;
      state.history.nextCursor = page.nextCursor;
      state.history.loaded = true;
    } catch {
      /* keep what we had */
    } finally {
      state.history.loading = false;
      renderHistory();
    }
    if (historyAgain) {
      historyAgain = false;
      return refreshHistory();
    }
  }

  function renderAll() {
    document.documentElement.lang = lang();
    renderHeader();
    root.querySelector('.skip-link')?.replaceChildren(t().skipToContent);
    jobRegion.setAttribute('aria-label', t().resultHeading);
    if (!auth.session()) {
      renderSignIn();
      return;
    }
    if (!main.contains(toolsRegion)) rebuild(main, jobRegion, toolsRegion, historyRegion, footer);
    footer.textContent = t().signedInAs(auth.session()?.label ?? '');
    jobKey = '';
    renderJob();
    renderTools();
    renderHistory();
  }

  // --- tools ----------------------------------------------------------------------------------

  const currentParams = () => state.params[state.tool];
  const currentCost = () => TOOLS[state.tool].price(currentParams());
  const hasActiveJob = () =>
    state.phase.kind === 'uploading' ||
    state.phase.kind === 'creating' ||
    (state.phase.kind === 'job' && !isTerminal(state.phase.job.status));

  let priceLine: HTMLElement | null = null;
  let submitButton: HTMLButtonElement | null = null;
  let formError: HTMLElement | null = null;
  let busyNote: HTMLElement | null = null;

  function setFormError(message: string | null) {
    if (!formError) return;
    formError.textContent = message ?? '';
    if (message) formError.scrollIntoView({ block: 'nearest' });
  }

  function updatePrice() {
    const text = t();
    if (priceLine) {
      priceLine.textContent = text.priceLine(currentCost(), state.balance);
      priceLine.classList.toggle('short', state.balance !== null && state.balance < currentCost());
    }
    if (submitButton) {
      submitButton.textContent = text.submit(currentCost());
      submitButton.disabled = state.submitting;
    }
    // The API decides (409 → the active-job dialog); this only says why a new job would wait.
    if (busyNote) busyNote.textContent = hasActiveJob() ? text.busyHint : '';
  }

  function acceptedText(kind: MediaKind) {
    return MEDIA_TYPES[kind].map((type) => TYPE_NAMES[type] ?? type).join(', ');
  }

  function renderTools() {
    const text = t();
    const spec = TOOLS[state.tool];
    const toolButtons = TOOL_ORDER.map((id) =>
      h(
        'button',
        {
          type: 'button',
          class: 'tool-button',
          'aria-pressed': String(id === state.tool),
          'data-focus': `tool-${id}`,
          'data-tool': id,
          onClick: () => {
            if (state.tool === id) return;
            state.tool = id;
            renderTools();
          },
        },
        icon(id, 28),
        h('span', { class: 'tool-name' }, text.toolName[id]),
        h('span', { class: 'tool-price' }, text.credits(TOOLS[id].price(state.params[id]))),
      ),
    );

    const slots = Object.entries(spec.slots).map(([slot, kind]) => slotPicker(slot, kind));
    const params = Object.entries(spec.params).map(([name, param]) => {
      const legendId = uid('legend');
      return h(
        'fieldset',
        { class: 'param', 'aria-labelledby': legendId },
        h('legend', { id: legendId, class: 'field-label' }, text.paramName[name] ?? name),
        h(
          'div',
          { class: 'segmented' },
          param.values.map((value) => {
            const id = uid('param');
            return h(
              'span',
              { class: 'segment' },
              h('input', {
                type: 'radio',
                id,
                name: `${state.tool}-${name}`,
                value: String(value),
                checked: currentParams()[name] === value,
                'data-focus': `param-${name}-${value}`,
                onChange: () => {
                  currentParams()[name] = value;
                  updatePrice();
                  for (const b of Array.from(toolsRegion.querySelectorAll<HTMLElement>(`[data-tool="${state.tool}"] .tool-price`))) {
                    b.textContent = text.credits(currentCost());
                  }
                },
              }),
              h('label', { for: id }, text.paramValue[String(value)] ?? String(value)),
            );
          }),
        ),
      );
    });

    priceLine = h('p', { class: 'price', 'data-testid': 'price' });
    submitButton = h('button', { type: 'submit', class: 'button primary submit', 'data-focus': 'submit' });
    formError = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'form-error' });
    busyNote = h('p', { class: 'hint busy-note' });

    rebuild(
      toolsRegion,
      h('h2', { id: 'tools-heading', tabindex: '-1' }, text.toolsHeading),
      h('div', { class: 'tool-grid', role: 'group', 'aria-labelledby': 'tools-heading' }, toolButtons),
      h(
        'form',
        {
          class: 'tool-form stack',
          novalidate: true,
          'aria-label': text.toolName[state.tool],
          onSubmit: (event: SubmitEvent) => {
            event.preventDefault();
            void submit();
          },
        },
        h('p', { class: 'muted tool-description' }, text.toolDescription[state.tool]),
        slots,
        params,
        priceLine,
        busyNote,
        submitButton,
        formError,
        localAuth
          ? h(
              'p',
              { class: 'dev-row' },
              h(
                'button',
                { type: 'button', class: 'ghost-button small', 'data-focus': 'add-credits', onClick: addCredits },
                text.addCredits,
              ),
            )
          : null,
      ),
    );
    updatePrice();
  }

  function slotPicker(slot: string, kind: MediaKind) {
    const text = t();
    const tool = state.tool;
    const inputId = `file-${tool}-${slot}`;
    const hintId = `${inputId}-hint`;
    const file = state.files[tool][slot];
    const limitMb = Math.round(config.limits[kind] / MB);
    const preview = h('span', { class: 'file-preview', 'aria-hidden': 'true' });
    const fileText = h('span', { class: 'file-name' });
    const describe = (chosen: File | undefined) => {
      preview.replaceChildren();
      if (chosen && chosen.type.startsWith('image/') && MEDIA_TYPES.image.includes(chosen.type)) {
        let url = previews.get(chosen);
        if (!url) {
          url = URL.createObjectURL(chosen);
          previews.set(chosen, url);
        }
        const img = h('img', { src: url, alt: '' });
        // A file that only claims to be an image: show the generic icon rather than a broken picture.
        img.addEventListener('error', () => img.replaceWith(icon('upscale-image', 28)));
        preview.append(img);
      } else preview.append(icon(kind === 'video' ? 'upscale-video' : 'upscale-image', 28));
      fileText.textContent = chosen ? `${chosen.name} · ${formatBytes(chosen.size)}` : text.noFile;
      action.textContent = chosen ? text.changeFile : text.chooseFile;
    };
    const action = h('span', { class: 'file-action' });
    const input = h('input', {
      type: 'file',
      id: inputId,
      name: slot,
      class: 'visually-hidden file-input',
      accept: MEDIA_TYPES[kind].join(','),
      'aria-describedby': hintId,
      'data-focus': inputId,
      'data-slot': slot,
      onChange: () => {
        const chosen = input.files?.[0];
        state.files[tool][slot] = chosen;
        describe(chosen);
        setFormError(null);
      },
    });
    describe(file);
    return h(
      'div',
      { class: 'slot' },
      h('span', { class: 'field-label', id: `${inputId}-label` }, text.slotName[slot] ?? slot),
      input,
      h(
        'label',
        { for: inputId, class: 'file-drop' },
        preview,
        h('span', { class: 'file-text' }, h('span', { class: 'visually-hidden' }, `${text.slotName[slot] ?? slot}: `), fileText, action),
      ),
      h('p', { id: hintId, class: 'hint' }, text.accepts(acceptedText(kind), limitMb)),
    );
  }

  async function addCredits() {
    if (!localAuth) return;
    try {
      const current = await api.credits();
      state.balance = await localAuth.setBalance(current + 20);
      renderHeader();
      updatePrice();
      notify(t().addCreditsDone(state.balance));
    } catch (error) {
      setFormError(describeApiError(error));
    }
  }

  // --- submitting: check, presign, upload, then wait for the job --------------------------------

  async function submit() {
    if (state.submitting) return;
    const text = t();
    setFormError(null);
    const tool = state.tool;
    const spec = TOOLS[tool];
    const chosen = state.files[tool];
    const missing = Object.keys(spec.slots).find((slot) => !chosen[slot]);
    if (missing) {
      setFormError(text.missingFile(slotLabel(missing)));
      toolsRegion.querySelector<HTMLInputElement>(`#file-${tool}-${missing}`)?.focus();
      return;
    }
    const files = Object.keys(spec.slots).map((slot) => ({ slot, file: chosen[slot] as File }));
    const body: UploadRequestBody = {
      tool,
      params: { ...state.params[tool] },
      files: files.map(({ slot, file }) => ({ slot, contentType: contentTypeOf(file), size: file.size })),
    };
    // The API's own validation, run here first: same codes, same details, no round trip.
    try {
      parseUploadRequest(body, config.limits);
    } catch (error) {
      if (error instanceof DomainError) {
        setFormError(describeError(error.code, error.message, error.details));
        return;
      }
      throw error;
    }

    state.submitting = true;
    updatePrice();
    let presigned: Awaited<ReturnType<Api['createUpload']>>;
    try {
      presigned = await api.createUpload(body);
    } catch (error) {
      state.submitting = false;
      updatePrice();
      if (error instanceof ApiError && error.code === 'ACTIVE_JOB' && error.body.activeJob) {
        openActiveJobDialog(error.body.activeJob as Job);
        return;
      }
      if (error instanceof ApiError && error.code === 'INSUFFICIENT_CREDITS') {
        state.balance = Number(error.body.balance);
        renderHeader();
        updatePrice();
      }
      setFormError(describeApiError(error));
      return;
    }

    const { jobId } = presigned;
    const rows: UploadRow[] = files.map(({ slot, file }) => ({ slot, fileName: file.name, loaded: 0, total: file.size, done: false }));
    const handles: UploadHandle[] = [];
    const abortAll = () => {
      for (const handle of handles) handle.abort();
    };
    state.phase = { kind: 'uploading', jobId, rows, abort: abortAll };
    renderJob();
    jobRegion.scrollIntoView({ block: 'start', behavior: 'smooth' });
    for (const upload of presigned.uploads) {
      const file = files.find((f) => f.slot === upload.slot)?.file;
      const row = rows.find((r) => r.slot === upload.slot);
      if (!file || !row) continue;
      handles.push(
        postToS3(upload, file, (loaded, total) => {
          row.loaded = loaded;
          row.total = total;
          updateUploadRow(row);
        }),
      );
    }
    try {
      await Promise.all(
        handles.map((handle, i) =>
          handle.done.then(() => {
            const row = rows[i];
            if (row) {
              row.done = true;
              row.loaded = row.total;
              updateUploadRow(row);
            }
          }),
        ),
      );
    } catch (error) {
      abortAll();
      state.submitting = false;
      state.phase = { kind: 'idle' };
      renderJob();
      updatePrice();
      setFormError(describeUploadError(error));
      return;
    }

    // Keep the originals for the before/after slider.
    const beforeSlot = files.find(({ slot }) => slot === 'image' || slot === 'person');
    if (beforeSlot) beforeUrls.set(jobId, URL.createObjectURL(beforeSlot.file));
    state.submitting = false;
    rememberJob(jobId);
    state.phase = { kind: 'creating', jobId, since: Date.now() };
    renderJob();
    updatePrice();
    watchJob(jobId);
  }

  function updateUploadRow(row: UploadRow) {
    const element = jobRegion.querySelector<HTMLElement>(`[data-upload-slot="${row.slot}"]`);
    if (!element) return;
    const percent = row.total ? Math.min(100, Math.round((row.loaded / row.total) * 100)) : 0;
    const bar = element.querySelector('progress');
    if (bar) bar.value = percent;
    const label = element.querySelector('.upload-percent');
    if (label) label.textContent = row.done ? `${t().uploadDone} · 100%` : `${percent}%`;
    element.classList.toggle('done', row.done);
    const cancel = element.querySelector<HTMLButtonElement>('button');
    if (cancel) cancel.hidden = row.done;
  }

  // --- the current job ----------------------------------------------------------------------

  function watchJob(jobId: string) {
    watcher?.stop();
    watcher = new Watcher(
      async () => {
        const job = await api.job(jobId);
        const phase = state.phase;
        const stillOurs = (phase.kind === 'creating' && phase.jobId === jobId) || (phase.kind === 'job' && phase.job.jobId === jobId);
        if (!stillOurs) return false;
        if (!job) {
          // 404 until the S3 event created the job.
          if (phase.kind === 'creating' && Date.now() - phase.since > 15_000) {
            const slow = jobRegion.querySelector('.creating-text');
            if (slow) slow.textContent = t().creatingSlow;
          }
          return true;
        }
        const first = phase.kind === 'creating';
        state.phase = { kind: 'job', job };
        renderJob();
        if (first) void refreshBalance();
        if (isTerminal(job.status)) {
          void refreshBalance();
          void refreshHistory();
          return false;
        }
        return true;
      },
      { visibleMs: 1000, hiddenMinMs: 5000, hiddenMaxMs: 60_000 },
    ).start();
  }

  function showJob(job: Job, focus = false) {
    watcher?.stop();
    watcher = null;
    state.phase = { kind: 'job', job };
    rememberJob(job.jobId);
    jobKey = '';
    renderJob();
    if (!isTerminal(job.status)) watchJob(job.jobId);
    if (focus) {
      jobRegion.scrollIntoView({ block: 'start', behavior: 'smooth' });
      jobRegion.querySelector<HTMLElement>('#job-heading')?.focus({ preventScroll: true });
    }
  }

  function dismissJob() {
    watcher?.stop();
    watcher = null;
    state.phase = { kind: 'idle' };
    rememberJob(null);
    renderJob();
    toolsRegion.querySelector<HTMLElement>('#tools-heading')?.focus();
    // A job viewed from history may have hidden the one still in flight: bring that back.
    void restoreJob();
  }

  function renderJob() {
    const phase = state.phase;
    const key =
      phase.kind === 'job'
        ? `job|${phase.job.jobId}|${phase.job.status}|${phase.job.position}|${phase.job.refunded}|${phase.job.outputs.length}|${lang()}`
        : `${phase.kind}|${'jobId' in phase ? phase.jobId : ''}|${lang()}`;
    if (key === jobKey) return;
    jobKey = key;
    jobRegion.hidden = phase.kind === 'idle';
    rebuild(jobRegion, jobView(phase));
    updatePrice();
  }

  function jobView(phase: Phase): Child {
    if (phase.kind === 'idle') return null;
    if (phase.kind === 'uploading') return uploadCard(phase.rows);
    if (phase.kind === 'job') return jobCard(phase.job);
    return h(
      'div',
      { class: 'card job-card' },
      h('h2', { id: 'job-heading', tabindex: '-1' }, t().uploadHeading),
      h('p', { class: 'creating-text job-big' }, t().creatingJob),
      h('div', { class: 'busy-bar', 'aria-hidden': 'true' }),
    );
  }

  function uploadCard(rows: UploadRow[]) {
    const text = t();
    const phase = state.phase;
    const card = h(
      'div',
      { class: 'card job-card' },
      h('h2', { id: 'job-heading', tabindex: '-1' }, text.uploadHeading),
      h(
        'ul',
        { class: 'uploads' },
        rows.map((row) => {
          const labelId = uid('upload');
          return h(
            'li',
            { class: 'upload-row', 'data-upload-slot': row.slot },
            h(
              'div',
              { class: 'upload-head' },
              h('span', { id: labelId, class: 'upload-label' }, `${slotLabel(row.slot)} · ${row.fileName}`),
              h('span', { class: 'upload-percent', 'aria-hidden': 'true' }, '0%'),
            ),
            h(
              'div',
              { class: 'upload-bar' },
              h('progress', { max: 100, value: 0, 'aria-labelledby': labelId }),
              h(
                'button',
                {
                  type: 'button',
                  class: 'ghost-button small',
                  'aria-label': text.uploadCancelLabel(slotLabel(row.slot)),
                  'data-focus': `cancel-upload-${row.slot}`,
                  onClick: () => {
                    if (phase.kind === 'uploading') phase.abort();
                  },
                },
                text.uploadCancel,
              ),
            ),
          );
        }),
      ),
    );
    queueMicrotask(() => {
      for (const row of rows) updateUploadRow(row);
    });
    return card;
  }

  function jobCard(job: Job) {
    const text = t();
    const body: Child[] = [];
    if (job.status === 'queued') {
      body.push(
        h('p', { class: 'job-big', 'data-testid': 'queue-position' }, job.position ? text.position(job.position) : text.status.queued),
      );
      body.push(elapsed(job.createdAt, text.queuedFor));
      body.push(h('p', { class: 'hint' }, text.positionHint));
      body.push(cancelButton(job));
    } else if (job.status === 'running') {
      body.push(h('p', { class: 'job-big' }, elapsed(job.startedAt ?? job.createdAt, text.runningFor, 'span')));
      body.push(h('div', { class: 'busy-bar', 'aria-hidden': 'true' }));
      body.push(h('p', { class: 'hint' }, text.runningHint));
      body.push(cancelButton(job));
    } else {
      if (job.status === 'succeeded') body.push(resultView(job));
      else {
        body.push(h('p', { class: 'job-outcome', 'data-testid': 'job-error' }, outcomeText(job)));
        if (job.error?.message) {
          body.push(
            h(
              'details',
              { class: 'tech' },
              h('summary', null, text.technicalDetails),
              h('p', null, `${job.error.code}: ${job.error.message}`),
            ),
          );
        }
      }
      body.push(h('p', { class: 'muted small' }, `${formatDate(job.createdAt)} · ${costText(job)}`));
      body.push(h('button', { type: 'button', class: 'button secondary', 'data-focus': 'new-job', onClick: dismissJob }, text.newJob));
    }
    return h(
      'article',
      { class: `card job-card job-${job.status}`, 'data-job-id': job.jobId, 'aria-labelledby': 'job-heading' },
      h('div', { class: 'job-head' }, h('h2', { id: 'job-heading', tabindex: '-1' }, text.toolName[job.tool]), statusBadge(job)),
      body,
    );
  }

  function elapsed(since: string, template: (t: string) => string, tag: 'p' | 'span' = 'p') {
    // Ticks every second: kept out of the live region's announcements.
    const element = h(tag, { class: tag === 'p' ? 'muted' : '', 'data-since': since, 'data-testid': 'elapsed', 'aria-live': 'off' });
    element.textContent = template(formatDuration(Date.now() - new Date(since).getTime()));
    elapsedTemplates.set(element, template);
    return element;
  }

  function cancelButton(job: Job) {
    return h(
      'button',
      { type: 'button', class: 'button danger', 'data-focus': 'cancel-job', onClick: () => void cancelJob(job) },
      t().cancelJob,
    );
  }

  function resultView(job: Job) {
    const text = t();
    const [first] = job.outputs;
    const children: Child[] = [];
    const before = beforeUrls.get(job.jobId);
    if (first?.contentType.startsWith('image/')) {
      children.push(
        before
          ? compareSlider(before, first.url)
          : h('img', { class: 'result-image', src: first.url, alt: text.resultHeading, 'data-testid': 'result-image' }),
      );
    } else if (first?.contentType.startsWith('video/')) {
      children.push(h('video', { class: 'result-video', src: first.url, controls: true, playsinline: true, preload: 'metadata' }));
    }
    children.push(
      h(
        'div',
        { class: 'downloads' },
        job.outputs.map((output, i) =>
          h(
            'a',
            {
              class: 'button primary',
              href: output.url,
              download: `ghostless-${job.tool}-${job.jobId.slice(0, 8)}${job.outputs.length > 1 ? `-${i + 1}` : ''}.${EXTENSIONS[output.contentType] ?? 'bin'}`,
              'data-focus': `download-${i}`,
            },
            `${job.outputs.length > 1 ? text.downloadN(i + 1) : text.download} (${formatBytes(output.bytes)})`,
          ),
        ),
      ),
    );
    return h('div', { class: 'result' }, children);
  }

  async function cancelJob(job: Job) {
    const text = t();
    const latest = (await api.job(job.jobId).catch(() => null)) ?? job;
    if (isTerminal(latest.status)) {
      showJob(latest);
      return;
    }
    const ok = await confirmDialog(
      text.confirmTitle,
      latest.status === 'queued' ? text.confirmQueued(latest.creditCost) : text.confirmRunning(latest.creditCost),
      latest.status === 'running',
    );
    if (!ok) return;
    try {
      showJob(await api.cancel(latest.jobId), true);
    } catch (error) {
      notify(describeApiError(error));
      const fresh = await api.job(latest.jobId).catch(() => null);
      if (fresh) showJob(fresh);
    }
    void refreshBalance();
    void refreshHistory();
  }

  function openActiveJobDialog(active: Job) {
    const text = t();
    const titleId = uid('active');
    const status = h(
      'p',
      { class: 'active-status' },
      statusBadge(active),
      ' ',
      active.status === 'queued' && active.position ? text.position(active.position) : '',
    );
    const message = h('p', { class: 'dialog-message', role: 'status' });
    const actions = h('div', { class: 'dialog-actions' });
    const hint = h('p', { class: 'hint' }, active.status === 'queued' ? text.activeQueuedHint : text.activeRunningHint);
    const element = dialog(
      titleId,
      h('h2', { id: titleId }, text.activeTitle),
      h('p', null, text.activeBody),
      h(
        'div',
        { class: 'active-job', 'data-testid': 'active-job' },
        h('p', { class: 'active-tool' }, icon(active.tool, 22), h('strong', null, text.toolName[active.tool])),
        status,
        h('p', { class: 'muted small' }, text.createdAgo(formatAgo(active.createdAt))),
      ),
      hint,
      message,
      actions,
    );
    const view = h(
      'button',
      {
        type: 'button',
        class: 'button secondary',
        onClick: () => {
          element.close();
          showJob(active, true);
        },
      },
      text.viewJob,
    );
    const close = h('button', { type: 'button', class: 'button secondary', onClick: () => element.close() }, text.close);
    if (active.status === 'queued') {
      const release = h(
        'button',
        {
          type: 'button',
          class: 'button danger',
          onClick: async () => {
            release.disabled = true;
            try {
              const { cancelled } = await api.releaseQueue();
              message.textContent = text.released(cancelled.length);
              hint.remove();
              // The summary now shows what became of that job (cancelled, or running if it started meanwhile).
              const fresh = await api.job(active.jobId).catch(() => null);
              if (fresh) status.replaceChildren(statusBadge(fresh));
              const retry = h(
                'button',
                {
                  type: 'button',
                  class: 'button primary',
                  onClick: () => {
                    element.close();
                    void submit();
                  },
                },
                text.retry,
              );
              actions.replaceChildren(close, retry);
              retry.focus();
              if (state.phase.kind === 'job' && cancelled.includes(state.phase.job.jobId)) {
                const fresh = await api.job(state.phase.job.jobId);
                if (fresh) showJob(fresh);
              }
              void refreshBalance();
              void refreshHistory();
            } catch (error) {
              release.disabled = false;
              message.textContent = describeApiError(error);
            }
          },
        },
        text.releaseQueue,
      );
      actions.append(view, release);
      release.focus();
    } else {
      actions.append(close, view);
      view.focus();
    }
  }

  // --- history ------------------------------------------------------------------------------

  function renderHistory() {
    const text = t();
    const { jobs, nextCursor, loading, loaded } = state.history;
    const items = jobs.map((job) => {
      const thumb = job.outputs[0];
      const date = formatDate(job.createdAt);
      return h(
        'li',
        { class: `history-item job-${job.status}`, 'data-job-id': job.jobId },
        h(
          'div',
          { class: 'history-thumb', 'aria-hidden': 'true' },
          thumb?.contentType.startsWith('image/') ? h('img', { src: thumb.url, alt: '', loading: 'lazy' }) : icon(job.tool, 26),
        ),
        h(
          'div',
          { class: 'history-main' },
          h('p', { class: 'history-title' }, h('strong', null, text.toolName[job.tool]), ' ', statusBadge(job)),
          h('p', { class: 'muted small' }, `${date} · ${costText(job)}`),
          job.error ? h('p', { class: 'history-error small' }, outcomeText(job)) : null,
        ),
        h(
          'button',
          {
            type: 'button',
            class: 'ghost-button small',
            'aria-label': text.historyViewLabel(text.toolName[job.tool], date),
            'data-focus': `view-${job.jobId}`,
            onClick: () => showJob(job, true),
          },
          text.historyView,
        ),
      );
    });
    rebuild(
      historyRegion,
      h(
        'div',
        { class: 'section-head' },
        h('h2', { id: 'history-heading' }, text.historyHeading),
        h(
          'button',
          { type: 'button', class: 'ghost-button small', 'data-focus': 'history-refresh', onClick: () => void refreshHistory() },
          text.refresh,
        ),
      ),
      loaded && jobs.length === 0 ? h('p', { class: 'muted' }, text.historyEmpty) : null,
      !loaded && loading ? h('p', { class: 'muted' }, text.loading) : null,
      h('ul', { class: 'history-list' }, items),
      nextCursor
        ? h(
            'button',
            {
              type: 'button',
              class: 'button secondary',
              disabled: loading,
              'data-focus': 'history-more',
              onClick: () => void refreshHistory(true),
            },
            loading ? text.loading : text.historyMore,
          )
        : null,
    );
  }

  // --- timers and lifecycle -------------------------------------------------------------------

  const elapsedTemplates = new WeakMap<Element, (t: string) => string>();
  setInterval(() => {
    for (const element of Array.from(jobRegion.querySelectorAll<HTMLElement>('[data-since]'))) {
      const template = elapsedTemplates.get(element);
      const since = element.dataset.since;
      if (template && since) element.textContent = template(formatDuration(Date.now() - new Date(since).getTime()));
    }
  }, 1000);

  // Coming back to the tab (or from the back-forward cache): catch up on the job, the balance and history.
  const onReturn = () => {
    if (document.visibilityState !== 'visible' || !auth.session()) return;
    void refreshBalance();
    // Nothing in flight here: a job may have been started (or finished) elsewhere meanwhile.
    const phase = state.phase;
    if (phase.kind === 'idle' || (phase.kind === 'job' && isTerminal(phase.job.status))) void restoreJob();
  };
  document.addEventListener('visibilitychange', onReturn);
  window.addEventListener('pageshow', (event) => {
    if (event.persisted) onReturn();
  });

  async function boot() {
    if (auth.session()) await enterApp();
    else renderAll();
  }
  return boot();
}
