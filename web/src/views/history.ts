import type { Job } from '../api';
import { h, rebuild } from '../dom';
import { formatDate, t } from '../i18n';
import { icon } from '../icons';
import type { AppStore } from '../state';
import { watch } from '../store';
import { costText, outcomeText, statusBadge } from '../words';

export interface HistoryActions {
  open(job: Job): void;
  refresh(more: boolean): void;
}

/** The user's jobs, newest first, each reopenable. */
export function mountHistory(region: HTMLElement, store: AppStore, actions: HistoryActions) {
  watch(
    store,
    (s) => {
      const { jobs, nextCursor, loading, loaded } = s.history;
      return [s.lang, nextCursor, loading, loaded, jobs.map((j) => `${j.jobId}:${j.status}:${j.refunded}`)].join('|');
    },
    (s) => {
      const text = t();
      const { jobs, nextCursor, loading, loaded } = s.history;
      rebuild(
        region,
        h(
          'div',
          { class: 'section-head' },
          h('h2', { id: 'history-heading' }, text.historyHeading),
          h(
            'button',
            { type: 'button', class: 'ghost-button small', 'data-focus': 'history-refresh', onClick: () => actions.refresh(false) },
            text.refresh,
          ),
        ),
        loaded && jobs.length === 0 ? h('p', { class: 'muted' }, text.historyEmpty) : null,
        !loaded && loading ? h('p', { class: 'muted' }, text.loading) : null,
        h(
          'ul',
          { class: 'history-list' },
          jobs.map((job) => item(job, actions)),
        ),
        nextCursor
          ? h(
              'button',
              {
                type: 'button',
                class: 'button secondary',
                disabled: loading,
                'data-focus': 'history-more',
                onClick: () => actions.refresh(true),
              },
              loading ? text.loading : text.historyMore,
            )
          : null,
      );
    },
  );
}

function item(job: Job, actions: HistoryActions) {
  const text = t();
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
      // A cancelled job is an outcome the user chose, not an error.
      job.error ? h('p', { class: `small ${job.status === 'failed' ? 'history-error' : 'history-outcome'}` }, outcomeText(job)) : null,
    ),
    h(
      'button',
      {
        type: 'button',
        class: 'ghost-button small',
        'aria-label': text.historyViewLabel(text.toolName[job.tool], date),
        'data-focus': `view-${job.jobId}`,
        onClick: () => actions.open(job),
      },
      text.historyView,
    ),
  );
}
