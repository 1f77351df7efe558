import { type Child, h, uid } from './dom';
import { t } from './i18n';

/** Modal dialogs on the native <dialog>: focus is trapped and restored, Esc closes, the page behind is inert. */

export function dialog(labelId: string, ...children: Child[]) {
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
    const yes = h('button', { type: 'button', class: 'button danger', onClick: () => ((answer = true), element.close()) }, text.confirmYes);
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
