import type { Job } from '../api';
import { type Child, h, uid } from '../dom';
import { formatAgo, t } from '../i18n';
import { icon } from '../icons';
import { describeApiError, statusBadge } from '../words';

/** Modal dialogs on the native <dialog>: focus is trapped and restored, Esc closes, the page behind is inert. */

function dialog(labelId: string, ...children: Child[]) {
  document.dispatchEvent(new Event('ghostless:dialog'));
  const element = h('dialog', { class: 'dialog', 'aria-labelledby': labelId }, ...children);
  element.addEventListener('close', () => element.remove());
  document.body.append(element);
  element.showModal();
  return element;
}

export function confirmDialog(title: string, message: string, warn: boolean): Promise<boolean> {
  const text = t();
  return new Promise((resolve) => {
    const titleId = uid('confirm');
    let answer = false;
    const yes = h(
      'button',
      {
        type: 'button',
        class: 'button danger',
        onClick: () => {
          answer = true;
          element.close();
        },
      },
      text.confirmYes,
    );
    const no = h('button', { type: 'button', class: 'button secondary', onClick: () => element.close() }, text.confirmNo);
    const element = dialog(
      titleId,
      h('h2', { id: titleId }, title),
      h('p', { class: warn ? 'warning' : '', 'data-testid': 'confirm-message' }, message),
      h('div', { class: 'dialog-actions' }, no, yes),
    );
    element.addEventListener('close', () => resolve(answer));
    no.focus();
  });
}

export interface ActiveJobActions {
  view(job: Job): void;
  /** Cancels the user's queued jobs; answers how many, and what became of this job. */
  releaseQueue(job: Job): Promise<{ cancelled: number; job: Job | null }>;
  /** Sends the form the user had tried to send. */
  sendNow(): void;
}

/**
 * The block: another job of this user is active (started on another device or tab). A queued one can be
 * released from here; the title then says what the state has become.
 */
export function activeJobDialog(active: Job, actions: ActiveJobActions) {
  const text = t();
  const titleId = uid('active');
  const title = h('h2', { id: titleId }, text.activeTitle);
  const status = h(
    'p',
    { class: 'active-status' },
    statusBadge(active),
    ' ',
    active.status === 'queued' && active.position ? text.position(active.position) : '',
  );
  const message = h('p', { class: 'dialog-message', role: 'status' });
  const actionsRow = h('div', { class: 'dialog-actions' });
  const hint = h('p', { class: 'hint' }, active.status === 'queued' ? text.activeQueuedHint : text.activeRunningHint);
  const element = dialog(
    titleId,
    title,
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
    actionsRow,
  );
  const button = (label: string, kind: string, onClick: () => void) =>
    h('button', { type: 'button', class: `button ${kind}`, onClick }, label);
  const close = button(text.close, 'secondary', () => element.close());
  const view = button(text.viewJob, 'secondary', () => {
    element.close();
    actions.view(active);
  });
  if (active.status !== 'queued') {
    actionsRow.append(close, view);
    view.focus();
    return;
  }
  const release = button(text.releaseQueue, 'danger', async () => {
    release.disabled = true;
    try {
      const { cancelled, job } = await actions.releaseQueue(active);
      const now = job ?? active;
      message.textContent = text.released(cancelled);
      hint.remove();
      status.replaceChildren(statusBadge(now));
      title.textContent =
        now.status === 'cancelled'
          ? text.activeTitleAfter.cancelled
          : now.status === 'running'
            ? text.activeTitleAfter.running
            : text.activeTitleAfter.ended;
      if (now.status === 'queued' || now.status === 'running') {
        // It started meanwhile: nothing new can be sent yet.
        actionsRow.replaceChildren(
          close,
          button(text.viewJob, 'secondary', () => {
            element.close();
            actions.view(now);
          }),
        );
        close.focus();
        return;
      }
      const send = button(text.retry, 'primary', () => {
        element.close();
        actions.sendNow();
      });
      actionsRow.replaceChildren(close, send);
      send.focus();
    } catch (error) {
      release.disabled = false;
      message.textContent = describeApiError(error);
    }
  });
  actionsRow.append(view, release);
  release.focus();
}
