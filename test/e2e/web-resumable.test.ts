import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../lambdas/domain/jobs';
import { expectAccessible } from '../support/a11y';
import { ensureWebBuild, hasChromium, launchBrowser, phoneContext, screenshot } from '../support/browser';
import { assertInvariants } from '../support/invariants';
import { video } from '../support/media';
import { type StartedTestStack, startTestStack } from '../support/started-stack';

/**
 * A big video from a phone whose connection drops at ~60%: the page is reloaded, the same file picked again, and
 * only the parts S3 does not hold yet are sent. Parts are 5 MiB, uploads throttled so the drop lands mid-upload.
 */
const MiB = 1024 * 1024;
const PART = 5 * MiB;
let stack: StartedTestStack;
let browser: Browser;
let dir: string;
let clipPath: string;
let clipSize: number;

beforeAll(async () => {
  if (!hasChromium) return;
  ensureWebBuild();
  dir = mkdtempSync(join(tmpdir(), 'ghostless-resumable-'));
  const [started, launched, clip] = await Promise.all([
    startTestStack({ PROVIDER_LATENCY_MS: '60000', MULTIPART_THRESHOLD_BYTES: String(6 * MiB), MULTIPART_PART_BYTES: String(PART) }),
    launchBrowser(),
    video({ width: 640, height: 480, seconds: 16, noisy: true }),
  ]);
  [stack, browser] = [started, launched];
  clipPath = join(dir, 'praia.mp4');
  writeFileSync(clipPath, clip);
  clipSize = clip.length;
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const partOf = (request: Request) => Number(new URL(request.url()).searchParams.get('partNumber'));
const isPart = (request: Request) => request.method() === 'PUT' && request.url().includes('/s3/') && partOf(request) > 0;
const lengthOf = (n: number) => Math.min(PART, clipSize - (n - 1) * PART);
const sum = (parts: Iterable<number>) => [...parts].reduce((total, n) => total + lengthOf(n), 0);

async function signIn(page: Page, userId: string, lang: 'pt-BR' | 'en' = 'pt-BR') {
  await page.goto('/');
  if (lang === 'en') await page.getByRole('button', { name: 'Switch to English' }).click();
  await page.getByLabel(lang === 'en' ? 'Your name' : 'Seu nome').fill(userId);
  await page.getByRole('button', { name: lang === 'en' ? 'Sign in' : 'Entrar', exact: true }).click();
  await page.getByTestId('balance').waitFor();
}

/** A phone's uplink through the DevTools protocol, so a 34 MiB upload takes a few seconds. */
async function throttle(context: BrowserContext, page: Page, bytesPerSecond: number) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 20,
    downloadThroughput: -1,
    uploadThroughput: bytesPerSecond,
  });
}

async function pickAndSend(page: Page, tool = 'Ampliar vídeo') {
  await page.locator('.tool-grid').getByRole('button', { name: tool }).click();
  await page.setInputFiles('#file-upscale-video-video', clipPath);
  await page.locator('form.tool-form button[type="submit"]').click();
}

describe.skipIf(!hasChromium)('a resumable upload on a phone', () => {
  it('continues a video upload dropped at 60% after a reload, sending again only the parts that were in flight', async () => {
    const userId = `resume-${Date.now()}`;
    await stack.api.call('POST', '/api/local/credits', { body: { userId, balance: 10 } });
    const context = await phoneContext(browser, stack.url);
    // Observation only: the resumed-upload note may show for a moment only (the rest of the upload is quick).
    await context.addInitScript(() => {
      new MutationObserver(() => {
        const note = document.querySelector('[data-testid="upload-resumed"]')?.textContent;
        if (note) (window as unknown as { __resumed?: string }).__resumed = note;
      }).observe(document, { subtree: true, childList: true, characterData: true });
    });
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (message) => message.type() === 'error' && consoleErrors.push(message.text()));
    await signIn(page, userId);
    expect(clipSize).toBeGreaterThan(30 * MiB);

    const started = new Set<number>();
    const stored = new Set<number>();
    let phase: 'before' | 'after' = 'before';
    const after: number[] = [];
    page.on('request', (request) => {
      if (!isPart(request)) return;
      if (phase === 'before') started.add(partOf(request));
      else after.push(partOf(request));
    });
    page.on('requestfinished', async (request) => {
      if (isPart(request) && phase === 'before' && (await request.response())?.status() === 200) stored.add(partOf(request));
    });
    await throttle(context, page, 12 * MiB);

    await pickAndSend(page);
    await page.waitForFunction(
      () => /faltam cerca de/.test(document.querySelector('[data-testid="upload-figures"]')?.textContent ?? ''),
      null,
      {
        timeout: 20_000,
      },
    );
    const figures = (await page.getByTestId('upload-figures').textContent()) ?? '';
    expect(figures).toMatch(/MB de \d+(,\d)? MB · [\d,]+ (KB|MB)\/s · faltam cerca de \d+ (s|min)/);
    await screenshot(page, 'resumable-01-uploading');
    const deadline = Date.now() + 60_000;
    // ~60% of the bytes sent, as the progress bar says (parts finish in batches: stored bytes jump from 50% to 100%).
    const percent = () => page.evaluate(() => Number.parseInt(document.querySelector('.upload-percent')?.textContent ?? '0', 10));
    while ((await percent()) < 60 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    // The drop: the page goes away mid-upload, taking every part in flight with it.
    // Parts seen in flight; some may have reached S3 a moment before the drop, which the server's list will say.
    const inFlight = [...started].filter((n) => !stored.has(n));
    phase = 'after';
    const listed = page.waitForResponse((response) => /\/api\/uploads\/[^/]+\/video\/parts$/.test(response.url()));
    await page.reload();
    expect(inFlight.length).toBeGreaterThan(0);

    await page.getByTestId('balance').waitFor();
    await pickAndSend(page);
    const serverStored = ((await (await listed).json()) as { stored: { partNumber: number }[] }).stored.map((p) => p.partNumber);
    const storedBytes = sum(serverStored);
    expect(storedBytes).toBeGreaterThan(0);
    expect(storedBytes).toBeLessThan(clipSize);
    await page.waitForFunction(() => (window as unknown as { __resumed?: string }).__resumed, null, { timeout: 15_000 });
    expect(await page.evaluate(() => (window as unknown as { __resumed?: string }).__resumed)).toMatch(
      /^Continuando de onde parou: [\d,]+ MB já estavam salvos\.$/,
    );
    await screenshot(page, 'resumable-02-resumed');
    const job = page.locator('.job-region article.job-card[data-job-id]');
    await job.waitFor({ timeout: 30_000 });
    const jobId = (await job.getAttribute('data-job-id')) as string;

    const resent = after.filter((n) => started.has(n));
    const resentBytes = sum(resent);
    console.log(
      `[resumable] ${(clipSize / MiB).toFixed(1)} MiB in ${Math.ceil(clipSize / PART)} parts; dropped at 60% of bytes sent with ${(storedBytes / MiB).toFixed(1)} MiB stored ` +
        `(${((storedBytes / clipSize) * 100).toFixed(0)}%, parts ${JSON.stringify(serverStored)}), parts seen in flight ${JSON.stringify(inFlight)}; ` +
        `after the reload: ${after.length} parts, ${(sum(after) / MiB).toFixed(1)} MiB sent, of which re-sent ${resentBytes} bytes (parts ${JSON.stringify(resent)})`,
    );
    // No stored part is sent twice; what is sent again is at most what was in flight when the connection dropped.
    expect(after.filter((n) => serverStored.includes(n))).toEqual([]);
    expect([...serverStored, ...after].sort((a, b) => a - b)).toEqual(Array.from({ length: Math.ceil(clipSize / PART) }, (_, i) => i + 1));
    expect(new Set(after).size).toBe(after.length);
    expect(resentBytes).toBeLessThanOrEqual(sum(inFlight));
    expect(sum(after)).toBe(clipSize - storedBytes);

    const token = (await stack.api.call<{ token: string }>('POST', '/api/local/token', { body: { userId } })).body.token;
    await stack.api.waitForJob(token, jobId, (j: Job) => j.status === 'queued' || j.status === 'running');
    const s3 = new S3Client({
      endpoint: stack.s3Endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    const head = await s3.send(new HeadObjectCommand({ Bucket: stack.bucketName, Key: `inputs/${jobId}/video` }));
    s3.destroy();
    expect(head.ContentLength).toBe(clipSize);
    expect(await page.evaluate(() => Object.keys(localStorage).filter((key) => key.startsWith('ghostless.resume.')))).toEqual([]);
    expect(consoleErrors).toEqual([]);
    await assertInvariants(stack);
    await context.close();
  }, 180_000);

  it('shows bytes, speed and time left in English while a big video goes up in parts, retries a cut-off part, with no accessibility violations', async () => {
    const userId = `resume-en-${Date.now()}`;
    await stack.api.call('POST', '/api/local/credits', { body: { userId, balance: 10 } });
    const context = await phoneContext(browser, stack.url);
    const page = await context.newPage();
    const consoleErrors: string[] = [];
    page.on('console', (message) => message.type() === 'error' && consoleErrors.push(message.text()));
    await signIn(page, userId, 'en');
    await throttle(context, page, 6 * MiB);
    // Part 2's first try is cut off, as a flaky network would: that part alone is retried.
    const tries: number[] = [];
    await page.route(/\/s3\/.*partNumber=/, async (route) => {
      const n = partOf(route.request());
      tries.push(n);
      if (n === 2 && tries.filter((t) => t === 2).length === 1) await route.abort('connectionreset');
      else await route.continue();
    });
    await pickAndSend(page, 'Upscale video');
    const figures = page.getByTestId('upload-figures');
    await page.waitForFunction(() => /left$/.test(document.querySelector('[data-testid="upload-figures"]')?.textContent ?? ''), null, {
      timeout: 20_000,
    });
    expect(await figures.textContent()).toMatch(/^[\d.]+ (KB|MB) of [\d.]+ MB · [\d.]+ (KB|MB)\/s · about \d+ (s|min) left$/);
    await screenshot(page, 'resumable-03-uploading-en');
    await expectAccessible(page, 'resumable upload (en)');
    const job = page.locator('.job-region article.job-card[data-job-id]');
    await job.waitFor({ timeout: 60_000 });
    const parts = Math.ceil(clipSize / PART);
    expect(tries.sort((a, b) => a - b)).toEqual([1, 2, ...Array.from({ length: parts - 1 }, (_, i) => i + 2)]);
    // The cut-off part logs one failed resource; nothing else does.
    expect(consoleErrors.filter((e) => !/ERR_CONNECTION_RESET/.test(e))).toEqual([]);
    await context.close();
  }, 120_000);
});
