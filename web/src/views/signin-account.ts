import { type AccountAuth, AccountError } from '../auth-clients';
import { appForm, type Child, h, mount, uid } from '../dom';
import { t } from '../i18n';
import { signInHead } from './signin';

type Mode = 'signin' | 'signup' | 'confirm' | 'forgot' | 'reset';

export interface AccountSignInOptions {
  /** A line under every step's title (local mode: where the "e-mail" goes). */
  note?: string;
  /** Another way in, offered under the sign-in form (local mode: the name-only sign-in). */
  alternative?: { label: string; choose: () => void };
}

/**
 * E-mail + password sign-in (the Cognito user pool, or the local stack's stand-in): sign-up with the
 * e-mailed confirmation code, and a forgotten password (a code by e-mail, then a new password). Calls
 * `done` once signed in.
 */
export function accountSignIn(
  auth: AccountAuth,
  notice: string | null,
  done: () => Promise<void>,
  options: AccountSignInOptions = {},
): HTMLElement {
  const text = t();
  let mode: Mode = 'signin';
  let email = '';
  let password = '';

  const card = h('section', { class: 'card signin', 'aria-labelledby': 'signin-heading' });
  const describe = (error: unknown) => {
    if (error instanceof AccountError) {
      if (error.code === 'NetworkError') return text.errNetwork;
      return text.accountError[error.code] ?? text.signInFailed;
    }
    return text.signInFailed;
  };

  function field(label: string, attrs: Record<string, string | number | boolean>, hint?: string) {
    const id = uid('field');
    const hintId = hint ? `${id}-hint` : undefined;
    const input = h('input', { id, class: 'text-input', required: true, ...attrs, 'aria-describedby': hintId });
    return {
      input,
      nodes: [h('label', { for: id, class: 'field-label' }, label), input, hint ? h('p', { id: hintId, class: 'hint' }, hint) : null],
    };
  }
  const emailField = () =>
    field(text.emailLabel, { type: 'email', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', value: email });
  const codeField = () => field(text.codeLabel, { type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 10 });
  const newPasswordField = (label: string) =>
    field(label, { type: 'password', autocomplete: 'new-password', minlength: 8 }, text.passwordHint);
  const link = (label: string, onClick: () => void) => h('button', { type: 'button', class: 'ghost-button', onClick }, label);
  const go = (next: Mode, status: string | null = null) => {
    mode = next;
    render(null, status);
  };
  /** "Send the code again" (then says so, or why not) and "Back to sign in", under a code step. */
  const resendAndBack = (send: () => Promise<void>, sent: string) => [
    link(
      text.resendCode,
      () =>
        void send().then(
          () => render(null, sent),
          (e) => render(describe(e)),
        ),
    ),
    link(text.backToSignIn, () => go('signin')),
  ];
  const readEmail = (input: HTMLInputElement) => {
    email = input.value.trim().toLowerCase();
  };

  function render(message: string | null = null, status: string | null = null) {
    const error = h('p', { class: 'form-error', role: 'alert' }, message ?? '');
    const info = h('p', { class: 'dialog-message', role: 'status' }, status ?? '');
    const submit = h('button', { type: 'submit', class: 'button primary' });
    const busy = async (work: () => Promise<void>) => {
      submit.disabled = true;
      info.textContent = '';
      try {
        await work();
      } catch (e) {
        if (e instanceof AccountError && e.code === 'UserNotConfirmedException') {
          await auth.resendCode(email).catch(() => {});
          go('confirm');
          return;
        }
        error.textContent = describe(e);
        submit.disabled = false;
      }
    };
    const form = (label: string, work: () => Promise<void>, ...fields: Child[]) => {
      submit.textContent = label;
      return appForm({ class: 'stack' }, () => void busy(work), fields, submit, error, info);
    };
    const note = options.note ? h('p', { class: 'hint' }, options.note) : null;
    const step = (title: string, hint: string, focus: HTMLInputElement, ...rest: Child[]) => {
      mount(card, h('h1', { id: 'signin-heading' }, title), h('p', { class: 'muted' }, hint), note, rest);
      focus.focus();
    };
    /** Signs in with the password just typed (after confirming the address or choosing a new password). */
    const signInNow = async () => {
      await auth.signIn(email, password);
      password = '';
      await done();
    };

    if (mode === 'confirm') {
      const code = codeField();
      step(
        text.confirmEmailTitle,
        text.confirmEmailHint(email),
        code.input,
        form(
          text.confirmSubmit,
          async () => {
            await auth.confirm(email, code.input.value.trim());
            if (password) await signInNow();
            else go('signin');
          },
          code.nodes,
        ),
        ...resendAndBack(() => auth.resendCode(email), text.codeResent),
      );
      return;
    }

    if (mode === 'forgot') {
      const address = emailField();
      step(
        text.forgotTitle,
        text.forgotHint,
        address.input,
        form(
          text.sendCode,
          async () => {
            readEmail(address.input);
            await auth.forgotPassword(email);
            go('reset');
          },
          address.nodes,
        ),
        link(text.backToSignIn, () => go('signin')),
      );
      return;
    }

    if (mode === 'reset') {
      const code = codeField();
      const newPassword = newPasswordField(text.newPasswordLabel);
      step(
        text.resetTitle,
        text.resetHint(email),
        code.input,
        form(
          text.resetSubmit,
          async () => {
            password = newPassword.input.value;
            await auth.resetPassword(email, code.input.value.trim(), password);
            await signInNow();
          },
          code.nodes,
          newPassword.nodes,
        ),
        ...resendAndBack(() => auth.forgotPassword(email), text.codeSent),
      );
      return;
    }

    const signup = mode === 'signup';
    const address = emailField();
    const passwordField = signup
      ? newPasswordField(text.passwordLabel)
      : field(text.passwordLabel, { type: 'password', autocomplete: 'current-password', minlength: 8 });
    mount(
      card,
      ...signInHead(signup ? text.createAccountTitle : text.signInTitle),
      note,
      form(
        signup ? text.createAccount : text.signInSubmit,
        async () => {
          readEmail(address.input);
          password = passwordField.input.value;
          if (!signup) return signInNow();
          await auth.signUp(email, password);
          go('confirm');
        },
        address.nodes,
        passwordField.nodes,
      ),
      signup
        ? null
        : link(text.forgotPassword, () => {
            readEmail(address.input);
            go('forgot');
          }),
      h(
        'p',
        { class: 'switch-mode' },
        signup ? null : `${text.noAccount} `,
        link(signup ? text.haveAccount : text.createAccount, () => {
          readEmail(address.input);
          go(signup ? 'signin' : 'signup');
        }),
      ),
      options.alternative ? link(options.alternative.label, options.alternative.choose) : null,
    );
    (email ? passwordField.input : address.input).focus();
  }

  render(notice);
  return card;
}
