import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectAccessible, expectTouchTarget } from '../support/a11y';
import { ensureWebBuild, hasChromium, launchBrowser, phoneContext, screenshot } from '../support/browser';
import { image } from '../support/media';
import { type StartedTestStack, startTestStack } from '../support/started-stack';

/**
 * The installed app in Chromium: the service worker (web/sw/sw.ts, built to dist/sw.js) controls the page, offers a
 * new build, shows the notification a push brings and opens its job; the shell loads with the server gone.
 * The push is delivered through the DevTools protocol (ServiceWorker.deliverPushMessage): there is no push service here.
 */

let stack: StartedTestStack;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let dir: string;
const SW_FILE = join(import.meta.dirname, '..', '..', 'web', 'dist', 'sw.js');
let originalSw: string | undefined;

const see = (locator: Locator, timeout = 15_000) => locator.first().waitFor({ state: 'visible', timeout });
const USER = 'pwa-ana';

beforeAll(async () => {
  if (!hasChromium) return;
  ensureWebBuild();
  dir = mkdtempSync(join(tmpdir(), 'ghostless-pwa-'));
  await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3b6fd8' } })
    .png()
    .toFile(join(dir, 'photo.png'));
  [stack, browser] = await Promise.all([startTestStack({ PROVIDER_LATENCY_MS: '1500' }), launchBrowser()]);
  await stack.api.call('POST', '/api/local/credits', { body: { userId: USER, balance: 20 } });
  context = await phoneContext(browser, stack.url);
  page = await context.newPage();
  await page.goto('/');
  await page.getByLabel('Seu nome').fill(USER);
  await page.getByRole('button', { name: 'Entrar', exact: true }).click();
  await see(page.getByTestId('balance'));
}, 120_000);

afterAll(async () => {
  if (originalSw !== undefined) writeFileSync(SW_FILE, originalSw);
  await context?.close();
  await browser?.close();
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const statusIs = (status: string) => page.locator('.job-region article.job-card [data-testid="status"]').filter({ hasText: status });

async function sendPhoto() {
  await page.setInputFiles('#file-upscale-image-image', join(dir, 'photo.png'));
  await page.locator('form.tool-form button[type="submit"]').click();
}

const tokenOf = async () => (await stack.api.call<{ token: string }>('POST', '/api/local/token', { body: { userId: USER } })).body.token;

/** A finished job of the signed-in user, made through the API. */
async function finishedJob() {
  const token = await tokenOf();
  const jobId = await stack.api.submit(token, 'upscale-image', [{ slot: 'image', contentType: 'image/png', body: await image() }]);
  return stack.api.waitForJob(token, jobId);
}

describe.skipIf(!hasChromium)('the installed app', () => {
  it('registers its service worker, which controls the page and precaches the shell under the build id, never the API', async () => {
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, { timeout: 15_000 });
    const cached = await page.evaluate(async () => {
      const names = await caches.keys();
      const urls = (
        await Promise.all(names.map(async (name) => (await (await caches.open(name)).keys()).map((r) => new URL(r.url).pathname)))
      ).flat();
      return { names, urls };
    });
    expect(cached.names).toEqual([expect.stringMatching(/^ghostless-shell-[0-9a-f]{16}$/)]);
    expect(cached.urls).toEqual(expect.arrayContaining(['/index.html', '/config.js', '/manifest.webmanifest']));
    expect(cached.urls.some((url) => url.startsWith('/assets/index-') && url.endsWith('.js'))).toBe(true);
    expect(cached.urls.filter((url) => url.startsWith('/api/') || url.startsWith('/s3/'))).toEqual([]);
  });

  it('offers, after a job is sent, to notify when it is ready, and goes away when dismissed', async () => {
    // The task hangs at the provider: the job stays running while the offer is looked at.
    stack.provider.hangNextTask();
    await sendPhoto();
    const offer = page.getByTestId('push-offer');
    await see(offer);
    expect(await page.getByTestId('push-accept').textContent()).toContain('Avisar quando ficar pronto');
    // Nothing asked for permission before a tap.
    expect(await page.evaluate(() => Notification.permission)).toBe('default');
    await expectTouchTarget('Avisar quando ficar pronto', page.getByTestId('push-accept'));
    await expectTouchTarget('Agora não', page.getByTestId('push-dismiss'));
    await screenshot(page, 'pwa-push-offer-pt');
    await expectAccessible(page, 'push offer (pt-BR)');
    await page.getByRole('button', { name: 'Switch to English' }).click();
    expect(await page.getByTestId('push-accept').textContent()).toContain('Notify me when it’s ready');
    expect(await page.getByTestId('push-dismiss').textContent()).toBe('Not now');
    await screenshot(page, 'pwa-push-offer-en');
    await expectAccessible(page, 'push offer (en)');
    await page.getByRole('button', { name: 'Mudar para português' }).click();
    await page.getByTestId('push-dismiss').click();
    await offer.waitFor({ state: 'detached' });
    const token = await tokenOf();
    const { job } = (await stack.api.call<{ job: { jobId: string } }>('GET', '/api/jobs/active', { token })).body;
    expect((await stack.api.call('POST', `/api/jobs/${job.jobId}/cancel`, { token })).status).toBe(200);
    await see(statusIs('Cancelado'), 30_000);
    // Dismissed for that job only: nothing comes back for it.
    expect(await offer.count()).toBe(0);
  }, 60_000);

  it('loses nothing for a user who denies notifications: the offer goes, the job ends on screen as before', async () => {
    await page.locator('[data-focus="new-job"]').click();
    await sendPhoto();
    await see(page.getByTestId('push-offer'));
    await page.getByTestId('push-accept').click();
    await page.getByTestId('push-offer').waitFor({ state: 'detached' });
    expect(await page.evaluate(() => Notification.permission)).not.toBe('granted');
    await see(statusIs('Pronto'), 30_000);
    expect(await page.locator('.toast').isVisible()).toBe(false);
  }, 60_000);

  it('shows the notification a push brings, and a click on it opens that job', async () => {
    await context.grantPermissions(['notifications'], { origin: stack.url });
    const job = await finishedJob();
    const cdp = await context.newCDPSession(page);
    const registration = new Promise<string>((resolve) =>
      cdp.on('ServiceWorker.workerRegistrationUpdated', ({ registrations }) => {
        const mine = registrations.find((r: { scopeURL: string; isDeleted: boolean }) => r.scopeURL === `${stack.url}/` && !r.isDeleted);
        if (mine) resolve(mine.registrationId);
      }),
    );
    await cdp.send('ServiceWorker.enable');
    const payload = { jobId: job.jobId, status: 'succeeded', title: 'Seu resultado está pronto', body: 'Toque para ver e baixar.' };
    await cdp.send('ServiceWorker.deliverPushMessage', {
      origin: stack.url,
      registrationId: await registration,
      data: JSON.stringify(payload),
    });
    const shown = () =>
      page.evaluate(async () =>
        (await (await navigator.serviceWorker.ready).getNotifications()).map((n) => ({ title: n.title, body: n.body, data: n.data })),
      );
    await expect
      .poll(shown, { timeout: 10_000 })
      .toEqual([{ title: payload.title, body: payload.body, data: { jobId: job.jobId, status: 'succeeded' } }]);

    // Back to the form first, so that the job card appearing is the click's doing.
    await page.locator('[data-focus="new-job"]').click();
    await page.locator('.job-region article.job-card').waitFor({ state: 'detached' });
    // The click, dispatched inside the worker (DevTools cannot click a system notification): the same handler runs.
    const [worker] = context.serviceWorkers();
    await worker?.evaluate(async () => {
      const scope = self as unknown as {
        registration: { getNotifications(): Promise<Notification[]> };
        dispatchEvent(event: Event): boolean;
      };
      const [notification] = await scope.registration.getNotifications();
      const NotificationEventClass = (
        globalThis as unknown as { NotificationEvent: new (type: string, init: { notification: Notification }) => Event }
      ).NotificationEvent;
      try {
        scope.dispatchEvent(new NotificationEventClass('notificationclick', { notification: notification as Notification }));
      } catch {
        /* waitUntil refuses a synthetic event; the handler has run */
      }
    });
    await expect
      .poll(() => page.evaluate(() => document.querySelector('.job-region article.job-card')?.getAttribute('data-job-id') ?? null))
      .toBe(job.jobId);
    await expect.poll(shown).toEqual([]);
  }, 60_000);

  it('opens the job a notification names when the app starts at /?job=<id>, and tidies the address', async () => {
    const job = await finishedJob();
    await page.goto(`/?job=${job.jobId}`);
    await expect
      .poll(() => page.evaluate(() => document.querySelector('.job-region article.job-card')?.getAttribute('data-job-id') ?? null))
      .toBe(job.jobId);
    expect(new URL(page.url()).search).toBe('');
  }, 60_000);

  it('shows "Nova versão disponível — Atualizar" when a new build waits, and loads it on "Atualizar"', async () => {
    originalSw = readFileSync(SW_FILE, 'utf8');
    writeFileSync(SW_FILE, `${originalSw}\n// a new build\n`);
    await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.update());
    const banner = page.getByTestId('update-banner');
    await see(banner);
    expect(await banner.locator('span').textContent()).toBe('Nova versão disponível');
    expect(await page.getByTestId('update-now').textContent()).toBe('Atualizar');
    await screenshot(page, 'pwa-update-banner-pt');
    await expectAccessible(page, 'update banner (pt-BR)');
    await expectTouchTarget('Atualizar', page.getByTestId('update-now'));
    await page.getByRole('button', { name: 'Switch to English' }).click();
    expect(await banner.locator('span').textContent()).toBe('A new version is available');
    expect(await page.getByTestId('update-now').textContent()).toBe('Update');
    await screenshot(page, 'pwa-update-banner-en');
    expect(await page.evaluate(async () => !!(await navigator.serviceWorker.getRegistration())?.waiting)).toBe(true);
    await Promise.all([page.waitForEvent('load'), page.getByTestId('update-now').click()]);
    await banner.waitFor({ state: 'detached' });
    const after = await page.evaluate(async () => {
      const registration = await navigator.serviceWorker.getRegistration();
      return { waiting: !!registration?.waiting, active: registration?.active?.state, controlled: !!navigator.serviceWorker.controller };
    });
    // The waiting worker took over: none waits any more, and the reloaded page is controlled by it.
    expect(after).toEqual({ waiting: false, active: 'activated', controlled: true });
  }, 60_000);

  it('still shows the app shell on a reload with the server gone', async () => {
    await stack.stop();
    await page.reload();
    await see(page.locator('header.topbar'));
    expect(await page.title()).toBe('Ghostless');
    await screenshot(page, 'pwa-offline-shell-pt');
  }, 60_000);
});
