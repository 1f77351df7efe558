import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT_WORDS, type Lang, walkAccountFlows } from '../support/account-flows';
import { ensureWebBuild, hasChromium, launchBrowser } from '../support/browser';
import { type StartedTestStack, startTestStack } from '../support/started-stack';

/**
 * The local stack's stand-in for the Cognito account flows, in a phone browser: sign-up with a code
 * "e-mailed" to the stack's log and mailbox, sign-in, forgotten password, and sign-out everywhere (the
 * local authorizer then refuses every older token of the user).
 */

let stack: StartedTestStack;
let browser: Browser;

beforeAll(async () => {
  if (!hasChromium) return;
  ensureWebBuild();
  [stack, browser] = await Promise.all([startTestStack(), launchBrowser()]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

const USE_EMAIL: Record<Lang, string> = { 'pt-BR': 'Entrar com e-mail e senha', en: 'Sign in with email and password' };

describe.skipIf(!hasChromium)('local accounts in the web app', () => {
  it.each(['pt-BR', 'en'] as const)(
    'sign-up with the code, a second device, forgotten password and sign-out everywhere (%s)',
    async (lang) => {
      const toAccountForm = async (page: Page) => {
        const choice = page.getByRole('button', { name: USE_EMAIL[lang] });
        if (await choice.count()) await choice.click();
        await page.getByLabel(ACCOUNT_WORDS[lang].password, { exact: true }).waitFor();
      };
      await walkAccountFlows({
        browser,
        baseURL: stack.url,
        lang,
        prefix: `local-account-${lang}`,
        email: `bia.${lang.toLowerCase()}@example.com`,
        toAccountForm,
        lastCode: async (email) => {
          const { status, body } = await stack.api.call<{ messages: { to: string; code: string }[] }>(
            'GET',
            `/api/local/mailbox?email=${encodeURIComponent(email)}`,
          );
          expect(status).toBe(200);
          return body.messages.at(-1)?.code as string;
        },
        oldTokensRefused: async (stored, other) => {
          const { token } = JSON.parse(stored['ghostless.session'] as string) as { token: string };
          const refused = await stack.api.call<{ message: string }>('GET', '/api/credits', { token });
          expect(refused.status).toBe(401);
          expect(refused.body.message).toMatch(/signed out everywhere/);
          // The other phone, reopened, is back at sign-in.
          await other.reload();
          await other.getByRole('heading', { name: ACCOUNT_WORDS[lang].signInTitle }).waitFor();
          await expect
            .poll(async () => ((await other.getByRole('alert').first().textContent()) ?? '').trim())
            .toBe(ACCOUNT_WORDS[lang].sessionExpired);
        },
      });
    },
    120_000,
  );

  it('keeps the name-only sign-in, whose tokens sign-out everywhere revokes too', async () => {
    const first = (await stack.api.call<{ token: string }>('POST', '/api/local/token', { body: { userId: 'rafa' } })).body.token;
    expect((await stack.api.call('GET', '/api/credits', { token: first })).status).toBe(200);
    expect((await stack.api.call('POST', '/api/local/account/sign-out-everywhere', { token: first, body: {} })).status).toBe(200);
    expect((await stack.api.call('GET', '/api/credits', { token: first })).status).toBe(401);
    const next = (await stack.api.call<{ token: string }>('POST', '/api/local/token', { body: { userId: 'rafa' } })).body.token;
    expect((await stack.api.call('GET', '/api/credits', { token: next })).status).toBe(200);
  });
});
