import { isTerminal } from '../../../lambdas/domain/jobs';
import { downloadName } from '../../../lambdas/domain/views';
import type { Job } from '../api';
import { compareSlider } from '../compare';
import { type Child, h, rebuild, uid } from '../dom';
import { leftMs, typicalRunMs, waitMs } from '../estimate';
import { formatBytes, formatDate, formatDuration, t } from '../i18n';
import type { AppState, AppStore, Phase, UploadRow } from '../state';
import { watch } from '../store';
import { costText, outcomeText, slotLabel, statusBadge } from '../words';

export interface JobCardActions {
  cancelUpload(): void;
  cancelJob(job: Job): void;
  dismissJob(): void;
}

/** What the job region shows: the upload, the job being created, or the job (queued, running, its result). */
export function mountJobCard(region: HTMLElement, store: AppStore, actions: JobCardActions) {
  watch(
    store,
    (s) => `${s.lang}|${phaseKey(s.phase)}|${s.capacity}|${typical(s)}`,
    (s) => {
      region.hidden = s.phase.kind === 'idle';
      rebuild(region, view(s.phase, actions, typical(s), s.capacity));
    },
  );
  // Elapsed times tick every second, in place (not through the store: nothing else depends on them).
  setInterval(() => {
    for (const element of Array.from(region.querySelectorAll<HTMLElement>('[data-since]'))) tick(element);
  }, 1000);
}

function phaseKey(phase: Phase) {
  switch (phase.kind) {
    case 'idle':
      return 'idle';
    case 'uploading':
      return `uploading|${phase.jobId}|${phase.rows.map((r) => `${r.loaded}/${r.total}/${r.done}`).join(',')}`;
    case 'creating':
      return `creating|${phase.jobId}|${phase.slow}`;
    case 'job': {
      const { job } = phase;
      return `job|${job.jobId}|${job.status}|${job.position}|${job.refunded}|${job.outputs.length}|${phase.before ?? ''}`;
    }
  }
}

/** The usual run time of the shown job's tool, from the history already loaded. */
// Only a live job shows an estimate: a finished result is not rebuilt (slider, focus) when the history refreshes.
const typical = (s: AppState) =>
  s.phase.kind === 'job' && !isTerminal(s.phase.job.status) ? typicalRunMs(s.history.jobs, s.phase.job.tool) : null;

const roughly = (ms: number) => t().roughly(ms < 60_000 ? 0 : Math.round(ms / 60_000));

function view(phase: Phase, actions: JobCardActions, typicalMs: number | null, capacity: number | null): Child {
  const text = t();
  switch (phase.kind) {
    case 'idle':
      return null;
    case 'uploading':
      return h(
        'div',
        { class: 'card job-card' },
        h('h2', { id: 'job-heading', tabindex: '-1' }, text.uploadHeading),
        h(
          'ul',
          { class: 'uploads' },
          phase.rows.map((row) => uploadRow(row, actions)),
        ),
      );
    case 'creating':
      return h(
        'div',
        { class: 'card job-card' },
        h('h2', { id: 'job-heading', tabindex: '-1' }, text.uploadHeading),
        h('p', { class: 'creating-text job-big' }, phase.slow ? text.creatingSlow : text.creatingJob),
        h('div', { class: 'busy-bar', 'aria-hidden': 'true' }),
      );
    case 'job':
      return jobCard(phase.job, phase.before, actions, typicalMs, capacity);
  }
}

function uploadRow(row: UploadRow, actions: JobCardActions) {
  const text = t();
  const labelId = uid('upload');
  const percent = row.total ? Math.min(100, Math.round((row.loaded / row.total) * 100)) : 0;
  return h(
    'li',
    { class: `upload-row${row.done ? ' done' : ''}`, 'data-upload-slot': row.slot },
    h(
      'div',
      { class: 'upload-head' },
      h('span', { id: labelId, class: 'upload-label' }, `${slotLabel(row.slot)} · ${row.fileName}`),
      h('span', { class: 'upload-percent', 'aria-hidden': 'true' }, row.done ? `${text.uploadDone} · 100%` : `${percent}%`),
    ),
    uploadFigures(row),
    h(
      'div',
      { class: 'upload-bar' },
      h('progress', { max: 100, value: row.done ? 100 : percent, 'aria-labelledby': labelId }),
      h(
        'button',
        {
          type: 'button',
          class: 'ghost-button small',
          hidden: row.done,
          'aria-label': text.uploadCancelLabel(slotLabel(row.slot)),
          'data-focus': `cancel-upload-${row.slot}`,
          onClick: actions.cancelUpload,
        },
        text.uploadCancel,
      ),
    ),
  );
}

/** Bytes sent, speed and time left, for the uploads that take long enough to wonder. */
function uploadFigures(row: UploadRow) {
  const text = t();
  const figures = [text.uploadBytes(formatBytes(row.loaded), formatBytes(row.total))];
  if (!row.done && row.speed) figures.push(text.uploadSpeed(formatBytes(row.speed)));
  if (!row.done && row.secondsLeft != null) figures.push(text.uploadTimeLeft(row.secondsLeft));
  return h(
    'div',
    { class: 'upload-figures muted', 'data-testid': 'upload-figures' },
    row.resumedBytes ? h('p', { 'data-testid': 'upload-resumed' }, text.uploadResumed(formatBytes(row.resumedBytes))) : null,
    h('p', {}, figures.join(' · ')),
  );
}

function jobCard(job: Job, before: string | undefined, actions: JobCardActions, typicalMs: number | null, capacity: number | null) {
  const text = t();
  const body: Child[] = [];
  const cancel = h(
    'button',
    { type: 'button', class: 'button danger', 'data-focus': 'cancel-job', onClick: () => actions.cancelJob(job) },
    text.cancelJob,
  );
  // The badge says the status; the body never repeats it (no "Processando" twice).
  if (job.status === 'queued') {
    if (job.position) {
      body.push(h('p', { class: 'job-big', 'data-testid': 'queue-position' }, text.position(job.position)));
      body.push(h('p', { class: 'queue-ahead', 'data-testid': 'queue-ahead' }, text.positionAhead(job.position)));
    }
    if (job.position && typicalMs !== null && capacity !== null) {
      body.push(h('p', { 'data-testid': 'estimate' }, text.estimateWait(roughly(waitMs(job.position, capacity, typicalMs)))));
    }
    body.push(
      elapsed(job.createdAt, (ms) => text.queuedFor(formatDuration(ms))),
      h('p', { class: 'hint' }, text.positionHint),
      cancel,
    );
  } else if (job.status === 'running') {
    body.push(
      h('p', { class: 'job-big' }, text.runningBig),
      elapsed(job.startedAt ?? job.createdAt, (ms) => text.runningFor(formatDuration(ms))),
      typicalMs === null
        ? null
        : elapsed(
            job.startedAt ?? job.createdAt,
            (ms) => {
              const left = leftMs(ms, typicalMs);
              return left === null ? text.estimateOver : text.estimateLeft(roughly(left));
            },
            'estimate',
          ),
      h('div', { class: 'busy-bar', 'aria-hidden': 'true' }),
      h('p', { class: 'hint' }, text.runningHint),
      cancel,
    );
  } else {
    if (job.status === 'succeeded') body.push(resultView(job, before));
    else {
      body.push(
        h('p', { class: `job-outcome${job.status === 'failed' ? ' is-error' : ''}`, 'data-testid': 'job-error' }, outcomeText(job)),
      );
      if (job.error?.message && job.status === 'failed') {
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
    body.push(
      h('button', { type: 'button', class: 'button secondary', 'data-focus': 'new-job', onClick: actions.dismissJob }, text.newJob),
    );
  }
  return h(
    'article',
    { class: `card job-card job-${job.status}`, 'data-job-id': job.jobId, 'aria-labelledby': 'job-heading' },
    h('div', { class: 'job-head' }, h('h2', { id: 'job-heading', tabindex: '-1' }, text.toolName[job.tool]), statusBadge(job)),
    body,
  );
}

const templates = new WeakMap<Element, (elapsedMs: number) => string>();

/** A line that follows the time since `since`, ticking every second. */
function elapsed(since: string, template: (elapsedMs: number) => string, testId = 'elapsed') {
  // Kept out of the live region's announcements.
  const element = h('p', { class: 'muted', 'data-since': since, 'data-testid': testId, 'aria-live': 'off' });
  templates.set(element, template);
  tick(element);
  return element;
}

function tick(element: HTMLElement) {
  const template = templates.get(element);
  const since = element.dataset.since;
  if (template && since) element.textContent = template(Date.now() - new Date(since).getTime());
}

function resultView(job: Job, before: string | undefined) {
  const text = t();
  const [first] = job.outputs;
  const children: Child[] = [];
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
            // Same-origin only; the presigned URL's Content-Disposition carries the same name across origins.
            download: downloadName(job, output.contentType, i),
            'data-focus': `download-${i}`,
          },
          `${job.outputs.length > 1 ? text.downloadN(i + 1) : text.download} (${formatBytes(output.bytes)})`,
        ),
      ),
    ),
  );
  return h('div', { class: 'result' }, children);
}
