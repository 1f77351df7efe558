import type { Browser, BrowserContext, Page } from 'playwright-core';
import { expect } from 'vitest';
import { expectAccessible, expectTouchTarget } from './a11y';
import { phoneContext, screenshot } from './browser';

/**
 * The account flows a user goes through, in a phone browser, in one language: sign-up with the e-mailed
 * code, sign-in on a second device, a forgotten password (code by e-mail, new password), and sign-out
 * everywhere. The same walk runs against the Cognito stand-in and the local stack; what differs (how the
 * app is configured, where the "e-mail" is read, how an old token is shown to be refused) comes in `setup`.
 */

export type Lang = 'pt-BR' | 'en';

export const ACCOUNT_WORDS = {
  'pt-BR': {
    signInTitle: 'Entrar',
    signIn: 'Entrar',
    signOut: 'Sair',
    createAccount: 'Criar conta',
    createTitle: 'Criar sua conta',
    email: 'E-mail',
    password: 'Senha',
    code: 'Código',
    confirm: 'Confirmar',
    confirmTitle: 'Confirme seu e-mail',
    forgot: 'Esqueci minha senha',
    forgotTitle: 'Redefinir senha',
    sendCode: 'Enviar código',
    resetTitle: 'Crie uma nova senha',
    resetHint: (email: string) =>
      `Se houver uma conta com ${email}, enviamos um código para esse endereço. Digite o código e a nova senha.`,
    newPassword: 'Nova senha',
    save: 'Salvar nova senha',
    back: 'Voltar para o login',
    everywhere: 'Sair de todos os dispositivos',
    signedOutEverywhere: 'Você saiu de todos os dispositivos. Entre de novo para continuar.',
    sessionExpired: 'Sua sessão expirou. Entre de novo.',
    wrongCode: 'Código incorreto. Confira e tente de novo.',
    weakPassword: 'Senha fraca: use pelo menos 8 caracteres, com maiúsculas, minúsculas, números e símbolos.',
    wrongPassword: 'E-mail ou senha incorretos.',
    signedInAs: (who: string) => `Conectado como ${who}`,
  },
  en: {
    signInTitle: 'Sign in',
    signIn: 'Sign in',
    signOut: 'Sign out',
    createAccount: 'Create account',
    createTitle: 'Create your account',
    email: 'Email',
    password: 'Password',
    code: 'Code',
    confirm: 'Confirm',
    confirmTitle: 'Confirm your email',
    forgot: 'Forgot password?',
    forgotTitle: 'Reset your password',
    sendCode: 'Send code',
    resetTitle: 'Choose a new password',
    resetHint: (email: string) =>
      `If there is an account for ${email}, we sent a code to that address. Type the code and your new password.`,
    newPassword: 'New password',
    save: 'Save new password',
    back: 'Back to sign in',
    everywhere: 'Sign out everywhere',
    signedOutEverywhere: 'You are signed out on all your devices. Sign in again to continue.',
    sessionExpired: 'Your session expired. Please sign in again.',
    wrongCode: 'Wrong code. Check it and try again.',
    weakPassword: 'Weak password: use at least 8 characters, with upper- and lower-case letters, digits and symbols.',
    wrongPassword: 'Wrong email or password.',
    signedInAs: (who: string) => `Signed in as ${who}`,
  },
} as const;

export interface AccountFlowSetup {
  browser: Browser;
  baseURL: string;
  lang: Lang;
  /** Names the screenshots (test-output/screenshots/<prefix>-…). */
  prefix: string;
  email: string;
  /** Routes config.js and the like, before any page loads. */
  configure?: (context: BrowserContext) => Promise<unknown>;
  /** From the sign-in screen the app opens on, to the e-mail + password form. */
  toAccountForm?: (page: Page) => Promise<void>;
  /** The last code "e-mailed" to the address. */
  lastCode: (email: string) => Promise<string>;
  /** After sign-out everywhere: shows that the other device's stored tokens are refused. */
  oldTokensRefused: (storage: Record<string, string>, other: Page) => Promise<void>;
}

const FIRST_PASSWORD = 'Primeira#2026';
const NEW_PASSWORD = 'Renovada#2027';

async function device(setup: AccountFlowSetup) {
  const context = await phoneContext(setup.browser, setup.baseURL);
  await setup.configure?.(context);
  if (setup.lang === 'en') await context.addInitScript(() => localStorage.setItem('ghostless.lang', 'en'));
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto('/');
  await page.getByRole('heading', { name: ACCOUNT_WORDS[setup.lang].signInTitle }).waitFor();
  await setup.toAccountForm?.(page);
  return { context, page, errors };
}

const alertText = async (page: Page) => ((await page.getByRole('alert').first().textContent()) ?? '').trim();

export async function walkAccountFlows(setup: AccountFlowSetup) {
  const w = ACCOUNT_WORDS[setup.lang];
  const { email, prefix } = setup;
  const a = await device(setup);
  const page = a.page;
  const submit = (name: string) => page.locator('form button[type="submit"]', { hasText: name }).click();
  const signedIn = () => page.getByText(w.signedInAs(email)).waitFor();
  const signInWith = async (target: Page, password: string) => {
    await target.getByLabel(w.email, { exact: true }).fill(email);
    await target.getByLabel(w.password, { exact: true }).fill(password);
    await target.locator('form button[type="submit"]', { hasText: w.signIn }).click();
  };

  // Sign-up: the code arrives by "e-mail"; a wrong one is refused in plain words.
  await page.getByRole('button', { name: w.createAccount }).click();
  await page.getByRole('heading', { name: w.createTitle }).waitFor();
  await page.getByLabel(w.email, { exact: true }).fill(email.toUpperCase());
  await page.getByLabel(w.password, { exact: true }).fill(FIRST_PASSWORD);
  await submit(w.createAccount);
  await page.getByRole('heading', { name: w.confirmTitle }).waitFor();
  await page.getByLabel(w.code, { exact: true }).fill('000000');
  await submit(w.confirm);
  await expect.poll(() => alertText(page)).toBe(w.wrongCode);
  await screenshot(page, `${prefix}-confirm`);
  await expectAccessible(page, `${prefix} confirm code (${setup.lang})`);
  await page.getByLabel(w.code, { exact: true }).fill(await setup.lastCode(email));
  await submit(w.confirm);
  await signedIn();

  // A second device signs in with the password.
  const b = await device(setup);
  await signInWith(b.page, FIRST_PASSWORD);
  await b.page.getByText(w.signedInAs(email)).waitFor();

  // Forgotten password on the first device: an unknown address gets the very same answer as a real one.
  await page.getByRole('button', { name: w.signOut, exact: true }).click();
  await setup.toAccountForm?.(page);
  await expectTouchTarget(w.forgot, page.getByRole('button', { name: w.forgot }));
  await page.getByRole('button', { name: w.forgot }).click();
  await page.getByRole('heading', { name: w.forgotTitle }).waitFor();
  await screenshot(page, `${prefix}-forgot`);
  await expectAccessible(page, `${prefix} forgot password (${setup.lang})`);
  const nobody = `nobody-${email}`;
  await page.getByLabel(w.email, { exact: true }).fill(nobody);
  await submit(w.sendCode);
  await page.getByText(w.resetHint(nobody)).waitFor();
  await page.getByLabel(w.code, { exact: true }).fill('123456');
  await page.getByLabel(w.newPassword, { exact: true }).fill(NEW_PASSWORD);
  await submit(w.save);
  await expect.poll(() => alertText(page)).toBe(w.wrongCode);
  await page.getByRole('button', { name: w.back }).click();

  await page.getByRole('button', { name: w.forgot }).click();
  await page.getByLabel(w.email, { exact: true }).fill(email);
  await submit(w.sendCode);
  await page.getByText(w.resetHint(email)).waitFor();
  const code = await setup.lastCode(email);
  await page.getByLabel(w.code, { exact: true }).fill(code);
  await page.getByLabel(w.newPassword, { exact: true }).fill('fraca');
  await submit(w.save);
  await expect.poll(() => alertText(page)).toBe(w.weakPassword);
  await page.getByLabel(w.code, { exact: true }).fill(code === '000000' ? '111111' : '000000');
  await page.getByLabel(w.newPassword, { exact: true }).fill(NEW_PASSWORD);
  await submit(w.save);
  await expect.poll(() => alertText(page)).toBe(w.wrongCode);
  await screenshot(page, `${prefix}-reset`);
  await expectAccessible(page, `${prefix} new password (${setup.lang})`);
  await page.getByLabel(w.code, { exact: true }).fill(code);
  await submit(w.save);
  await signedIn();

  // Sign out everywhere: the other device's tokens stop working; the old password no longer signs in.
  const stored = await b.page.evaluate(() => ({ ...localStorage }) as Record<string, string>);
  const everywhere = page.getByRole('button', { name: w.everywhere });
  await everywhere.scrollIntoViewIfNeeded();
  await expectTouchTarget(w.everywhere, everywhere);
  await expectAccessible(page, `${prefix} signed in (${setup.lang})`);
  await screenshot(page, `${prefix}-signed-in`, true);
  await everywhere.click();
  await page.getByRole('heading', { name: w.signInTitle }).waitFor();
  await expect.poll(() => alertText(page)).toBe(w.signedOutEverywhere);
  await setup.oldTokensRefused(stored, b.page);
  await setup.toAccountForm?.(page);
  await signInWith(page, FIRST_PASSWORD);
  await expect.poll(() => alertText(page)).toBe(w.wrongPassword);
  await signInWith(page, NEW_PASSWORD);
  await signedIn();

  expect([...a.errors, ...b.errors]).toEqual([]);
  await Promise.all([a.context.close(), b.context.close()]);
}
