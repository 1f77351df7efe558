import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuild, hasChromium, launchBrowser, phoneContext, screenshot } from '../support/browser';
import { image } from '../support/media';
import { type StartedTestStack, startTestStack } from '../support/started-stack';

/**
 * The SPA following a queued job by pushed events (the local stack's WebSocket API at /live): the position counts
 * down and the result appears while the page polls the API only as a slow safety net.
 */
let stack: StartedTestStack;
let browser: Browser;
const dir = mkdtempSync(join(tmpdir(), 'ghostless-live-web-'));
const photo = join(dir, 'photo.png');

beforeAll(async () => {
  if (!hasChromium) return;
  ensureWebBuild();
  writeFileSync(photo, await image('png', 64, 48));
  [stack, browser] = await Promise.all([startTestStack({ PROVIDER_LATENCY_MS: '500', MAX_RUNNING: '1' }), launchBrowser()]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const see = (page: Page, testId: string, hasText: string, timeout = 15_000) =>
  page.getByTestId(testId).filter({ hasText }).first().waitFor({ state: 'visible', timeout });

/** The words each language shows; the read count over a 10 s wait is measured once (pt-BR). */
const LANGUAGES = [
  { locale: 'pt-BR', name: 'Seu nome', signIn: 'Entrar', place: (n: number) => `Posição na fila: ${n}ª`, done: 'Pronto', countReads: true },
  {
    locale: 'en',
    name: 'Your name',
    signIn: 'Sign in',
    place: (n: number) => `Place in line: ${n === 1 ? '1st' : '2nd'}`,
    done: 'Done',
    countReads: false,
  },
];

describe.skipIf(!hasChromium)('the web app with live updates', () => {
  it.each(LANGUAGES)(
    'shows the queue position counting down and the result from pushed events, polling the job only as a fallback ($locale)',
    async (lang) => {
      // Another user holds the only slot; a third waits first in line.
      const input = [{ slot: 'image', contentType: 'image/png', body: await image('png', 64, 48) }];
      const blocker = await stack.api.user(`live-web-blocker-${Date.now()}`, 10);
      const filler = await stack.api.user(`live-web-filler-${Date.now()}`, 10);
      stack.provider.hangNextTask();
      const blockerJob = await stack.api.submit(blocker.token, 'upscale-image', input);
      await stack.api.waitForJob(blocker.token, blockerJob, (job) => job.status === 'running');
      const fillerJob = await stack.api.submit(filler.token, 'upscale-image', input);
      await stack.api.waitForJob(filler.token, fillerJob, (job) => job.status === 'queued');

      const userId = `live-web-${Date.now()}`;
      await stack.api.call('POST', '/api/local/credits', { body: { userId, balance: 5 } });
      const context = await phoneContext(browser, stack.url);
      const page = await context.newPage();
      const jobReads: number[] = [];
      const sockets: string[] = [];
      page.on('request', (request) => {
        // Reads of the job (GET /api/jobs/{id}, /api/jobs/active); the history list refreshed once at the end is not polling.
        if (request.method() === 'GET' && /^\/api\/jobs\/[^/]+$/.test(new URL(request.url()).pathname)) jobReads.push(Date.now());
      });
      page.on('websocket', (socket) => sockets.push(new URL(socket.url()).pathname));
      await page.goto('/');
      if (lang.locale === 'en') await page.getByRole('button', { name: 'Switch to English' }).click();
      await page.getByLabel(lang.name).fill(userId);
      await page.getByRole('button', { name: lang.signIn, exact: true }).click();
      await page.getByTestId('balance').first().waitFor({ state: 'visible' });
      await page.setInputFiles('#file-upscale-image-image', photo);
      await page.locator('form.tool-form button[type="submit"]').click();
      await see(page, 'queue-position', lang.place(2));
      expect(sockets).toEqual(['/live']);

      if (lang.countReads) {
        // Waiting: ten seconds with the socket open read the job at most once or twice (1 s polling would read ~10 times).
        const since = Date.now();
        await page.waitForTimeout(10_000);
        expect(jobReads.filter((at) => at >= since).length).toBeLessThanOrEqual(2);
      }

      // The job ahead leaves: the position moves without a read.
      const before = jobReads.length;
      await stack.api.call('POST', `/api/jobs/${fillerJob}/cancel`, { token: filler.token });
      await see(page, 'queue-position', lang.place(1), 5_000);
      await screenshot(page, `live-position-1-${lang.locale}`);
      // The slot frees: running, then the result, all pushed.
      await stack.api.call('POST', `/api/jobs/${blockerJob}/cancel`, { token: blocker.token });
      await page
        .locator('.job-region article.job-card')
        .getByTestId('status')
        .filter({ hasText: lang.done })
        .first()
        .waitFor({ timeout: 20_000 });
      // The result's links come from the one read at the end: the image loads.
      await page.waitForFunction(
        () => (document.querySelector<HTMLImageElement>('.compare img.compare-after')?.naturalWidth ?? 0) > 0,
        null,
        {
          timeout: 15_000,
        },
      );
      await screenshot(page, `live-result-${lang.locale}`);
      expect(jobReads.length - before).toBeLessThanOrEqual(1);
      await context.close();
    },
    90_000,
  );
});
