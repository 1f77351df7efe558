import { ApiError } from '../api';
import { type LocalAuth, toUserId, USER_ID_PATTERN } from '../auth-clients';
import { appForm, h, uid } from '../dom';
import { t } from '../i18n';
import { accountSignIn } from './signin-account';

/** The local screen the user last chose (a name, or an e-mail account), kept across language switches. */
let withAccount = false;

/**
 * Local sign-in: any name is a user. The name is kept as typed ("Maria da Conceição") for display; its id
 * ("maria-da-conceicao") is what the token carries.
 */
export function localSignIn(auth: LocalAuth, notice: string | null, done: () => Promise<void>): HTMLElement {
  const text = t();
  let view: HTMLElement;
  const choose = (account: boolean) => () => {
    withAccount = account;
    view.replaceWith(localSignIn(auth, null, done));
  };
  if (withAccount) {
    // The local stand-in for the Cognito flows: the "e-mail" is the stack's log line.
    view = accountSignIn(auth.accounts, notice, done, {
      note: text.localMailNote,
      alternative: { label: text.useLocalName, choose: choose(false) },
    });
    return view;
  }
  const error = h('p', { class: 'form-error', role: 'alert' }, notice ?? '');
  const inputId = uid('name');
  const previewId = uid('name-preview');
  const input = h('input', {
    id: inputId,
    name: 'name',
    type: 'text',
    autocomplete: 'username',
    autocapitalize: 'words',
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
  const signIn = async (userId: string, name: string) => {
    if (!USER_ID_PATTERN.test(userId)) {
      error.textContent = text.signInInvalid;
      input.focus();
      return;
    }
    submitButton.disabled = true;
    try {
      await auth.signIn(userId, name);
      await done();
    } catch (e) {
      error.textContent = e instanceof ApiError && e.status === 0 ? text.errNetwork : text.signInFailed;
      submitButton.disabled = false;
    }
  };
  const recent = auth.recent();
  queueMicrotask(() => input.focus());
  view = h(
    'section',
    { class: 'card signin', 'aria-labelledby': 'signin-heading' },
    signInHead(text.signInTitle),
    appForm(
      { class: 'stack' },
      () => void signIn(toUserId(input.value), input.value.trim().replace(/\s+/g, ' ')),
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
            recent.map((user) =>
              h('li', null, h('button', { type: 'button', class: 'chip', onClick: () => void signIn(user.userId, user.name) }, user.name)),
            ),
          ),
        )
      : null,
    h('button', { type: 'button', class: 'ghost-button', onClick: choose(true) }, text.useEmailAccount),
  );
  return view;
}

/** The sign-in screens' title and tagline (local and Cognito). */
export const signInHead = (title: string) => [h('h1', { id: 'signin-heading' }, title), h('p', { class: 'muted' }, t().appTagline)];
