import { type CognitoAuth, CognitoError } from '../auth';
import { appForm, h, uid } from '../dom';
import { t } from '../i18n';
import { signInHead } from './signin';

/**
 * E-mail + password sign-in against the Cognito user pool, with sign-up and the e-mailed confirmation code.
 * Calls `done` once signed in.
 */
export function cognitoSignIn(auth: CognitoAuth, notice: string | null, done: () => Promise<void>): HTMLElement {
  const text = t();
  let mode: 'signin' | 'signup' | 'confirm' = 'signin';
  let email = '';
  let password = '';

  const card = h('section', { class: 'card signin', 'aria-labelledby': 'signin-heading' });
  const describe = (error: unknown) => {
    if (error instanceof CognitoError) {
      if (error.code === 'NetworkError') return text.errNetwork;
      return text.cognitoError[error.code] ?? text.signInFailed;
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

  function render(message: string | null = null, status: string | null = null) {
    const error = h('p', { class: 'form-error', role: 'alert' }, message ?? '');
    const info = h('p', { class: 'dialog-message', role: 'status' }, status ?? '');
    const submit = h('button', { type: 'submit', class: 'button primary' });
    const busy = async (work: () => Promise<void>) => {
      submit.disabled = true;
      try {
        await work();
      } catch (e) {
        if (e instanceof CognitoError && e.code === 'UserNotConfirmedException') {
          mode = 'confirm';
          await auth.resendCode(email).catch(() => {});
          render();
          return;
        }
        error.textContent = describe(e);
        submit.disabled = false;
      }
    };

    if (mode === 'confirm') {
      const code = field(text.codeLabel, { type: 'text', inputmode: 'numeric', autocomplete: 'one-time-code', maxlength: 10 });
      submit.textContent = text.confirmSubmit;
      card.replaceChildren(
        h('h1', { id: 'signin-heading' }, text.confirmEmailTitle),
        h('p', { class: 'muted' }, text.confirmEmailHint(email)),
        h(
          'form',
          {
            class: 'stack',
            novalidate: true,
            onSubmit: (event: SubmitEvent) => {
              event.preventDefault();
              void busy(async () => {
                await auth.confirm(email, code.input.value.trim());
                if (password) {
                  await auth.signIn(email, password);
                  await done();
                } else {
                  mode = 'signin';
                  render();
                }
              });
            },
          },
          code.nodes,
          submit,
          error,
          info,
        ),
        h(
          'button',
          {
            type: 'button',
            class: 'ghost-button',
            onClick: () =>
              void auth.resendCode(email).then(
                () => render(null, text.codeResent),
                (e) => render(describe(e)),
              ),
          },
          text.resendCode,
        ),
      );
      code.input.focus();
      return;
    }

    const signup = mode === 'signup';
    const emailField = field(text.emailLabel, {
      type: 'email',
      autocomplete: 'username',
      autocapitalize: 'none',
      spellcheck: 'false',
      value: email,
    });
    const passwordField = field(
      text.passwordLabel,
      { type: 'password', autocomplete: signup ? 'new-password' : 'current-password', minlength: 8 },
      signup ? text.passwordHint : undefined,
    );
    submit.textContent = signup ? text.createAccount : text.signInSubmit;
    card.replaceChildren(
      ...signInHead(signup ? text.createAccountTitle : text.signInTitle),
      appForm(
        { class: 'stack' },
        () => {
          email = emailField.input.value.trim().toLowerCase();
          password = passwordField.input.value;
          void busy(async () => {
            if (signup) {
              await auth.signUp(email, password);
              mode = 'confirm';
              render();
              return;
            }
            await auth.signIn(email, password);
            password = '';
            await done();
          });
        },
        emailField.nodes,
        passwordField.nodes,
        submit,
        error,
      ),
      h(
        'p',
        { class: 'switch-mode' },
        signup ? null : `${text.noAccount} `,
        h(
          'button',
          {
            type: 'button',
            class: 'ghost-button',
            onClick: () => {
              mode = signup ? 'signin' : 'signup';
              render();
            },
          },
          signup ? text.haveAccount : text.createAccount,
        ),
      ),
    );
    (email ? passwordField.input : emailField.input).focus();
  }

  render(notice);
  return card;
}
