import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from '../../lambdas/domain/jobs';
import { expectAccessible, expectTouchTarget } from '../support/a11y';
import { ensureWebBuild, hasChromium, launchBrowser, phoneContext, screenshot } from '../support/browser';
import { image, mp4Header } from '../support/media';
import { type StartedTestStack, startTestStack } from '../support/started-stack';

/**
 * The SPA in a real (headless) Chromium on a phone-sized screen, against the whole local stack: real
 * uploads through presigned POSTs, the S3 event, the state machine, the local provider (sharp/ffmpeg).
 * MAX_RUNNING=1 so a queue forms with two blockers; the provider's hangNextTask holds a slot on demand.
 */

const run = promisify(execFile);
if (!hasChromium) console.warn('[web e2e] skipped: /usr/bin/chromium is not installed (apt-get install -y chromium)');

let stack: StartedTestStack;
let browser: Browser;
let dir: string;
let hasFfmpeg = false;
const file: Record<string, string> = {};
const contexts: BrowserContext[] = [];
const pageErrors: string[] = [];
/** Console errors per user: on normal paths there must be none (a 4xx fetch or XHR is logged as one). */
const consoleErrors = new Map<string, string[]>();

/** A picture worth looking at, stored uncompressed so the upload is big enough to report progress. */
async function picture(name: string, width: number, height: number, body: string, format: 'png' | 'jpeg' = 'png') {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${body}</svg>`;
  const path = join(dir, name);
  const image = sharp(Buffer.from(svg));
  await (format === 'png' ? image.png({ compressionLevel: 0 }) : image.jpeg({ quality: 90 })).toFile(path);
  return path;
}

const sky = (w: number, h: number) =>
  `<defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#3b6fd8"/><stop offset="1" stop-color="#f7b267"/></linearGradient></defs>` +
  `<rect width="${w}" height="${h}" fill="url(#g)"/>`;
const person = (w: number, h: number, skin = '#f1c27d') =>
  `${sky(w, h)}<circle cx="${w / 2}" cy="${h * 0.2}" r="${w * 0.12}" fill="${skin}"/>` +
  `<rect x="${w * 0.3}" y="${h * 0.32}" width="${w * 0.4}" height="${h * 0.38}" rx="20" fill="#2d3142"/>` +
  `<rect x="${w * 0.33}" y="${h * 0.7}" width="${w * 0.13}" height="${h * 0.28}" fill="#4f5d75"/>` +
  `<rect x="${w * 0.54}" y="${h * 0.7}" width="${w * 0.13}" height="${h * 0.28}" fill="#4f5d75"/>`;

beforeAll(async () => {
  if (!hasChromium) return;
  ensureWebBuild();
  dir = mkdtempSync(join(tmpdir(), 'ghostless-web-'));
  [stack, browser] = await Promise.all([startTestStack({ PROVIDER_LATENCY_MS: '800', MAX_RUNNING: '1' }), launchBrowser()]);
  const landscape = (w: number, h: number) =>
    `${sky(w, h)}<circle cx="${w * 0.75}" cy="${h * 0.25}" r="${h * 0.1}" fill="#fff3b0"/>` +
    `<path d="M0 ${h} L${w * 0.3} ${h * 0.45} L${w * 0.55} ${h * 0.8} L${w * 0.75} ${h * 0.55} L${w} ${h} Z" fill="#2a4d3a"/>` +
    `<text x="${w * 0.06}" y="${h * 0.16}" font-size="${h * 0.08}" font-family="sans-serif" fill="#fff">Ghostless</text>`;
  [file.photo, file.big, file.person, file.pose, file.garment] = await Promise.all([
    picture('photo.png', 640, 480, landscape(640, 480)),
    picture('big.png', 1000, 700, landscape(1000, 700)),
    picture('person.png', 300, 400, person(300, 400)),
    picture(
      'pose.png',
      300,
      400,
      `${sky(300, 400)}<path d="M150 60 L150 240 M60 120 L240 100 M150 240 L90 380 M150 240 L230 360" stroke="#111" stroke-width="22" stroke-linecap="round"/><circle cx="150" cy="50" r="34" fill="#111"/>`,
    ),
    picture(
      'garment.jpg',
      300,
      300,
      '<rect width="300" height="300" fill="#fafafa"/><path d="M90 40 L150 70 L210 40 L280 100 L240 140 L220 120 L220 280 L80 280 L80 120 L60 140 L20 100 Z" fill="#d7263d"/>',
      'jpeg',
    ),
  ]);
  file.gif = join(dir, 'anim.gif');
  await sharp({ create: { width: 20, height: 20, channels: 3, background: '#ff0000' } })
    .gif()
    .toFile(file.gif);
  file.fake = join(dir, 'not-a-picture.png');
  writeFileSync(file.fake, 'hello, I am a text file wearing a .png name\n'.repeat(20));
  file.huge = join(dir, 'huge.png');
  writeFileSync(file.huge, Buffer.alloc(21 * 1024 * 1024));
  file.video = join(dir, 'clip.mp4');
  hasFfmpeg = await run('ffmpeg', [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    'testsrc=size=160x120:rate=10',
    '-t',
    '1',
    '-pix_fmt',
    'yuv420p',
    '-c:v',
    'libx264',
    file.video,
  ]).then(
    () => true,
    () => false,
  );
  // Without ffmpeg: the start of an mp4, enough for the type sniffer, not a playable video.
  if (!hasFfmpeg) writeFileSync(file.video, mp4Header());
}, 120_000);

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await browser?.close();
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// --- helpers -----------------------------------------------------------------------------------

const api = () => stack.api;

async function setBalance(userId: string, balance: number) {
  const reply = await api().call('POST', '/api/local/credits', { body: { userId, balance } });
  expect(reply.status).toBe(200);
}

async function tokenOf(userId: string) {
  return (await api().call<{ token: string }>('POST', '/api/local/token', { body: { userId } })).body.token;
}

/** Waits until the locator is visible. */
const see = (locator: Locator, timeout = 15_000) => locator.first().waitFor({ state: 'visible', timeout });
const text = async (locator: Locator) => ((await locator.first().textContent()) ?? '').replace(/\s+/g, ' ').trim();

/** A fresh phone (empty storage) signed in through the picker as `name` (whose id is `userId`). */
async function openApp(name: string, options: { balance?: number; lang?: 'en'; userId?: string } = {}) {
  const userId = options.userId ?? name;
  if (options.balance !== undefined) await setBalance(userId, options.balance);
  const context = await phoneContext(browser, stack.url);
  contexts.push(context);
  await context.addInitScript(() => {
    // Observation only: what the user saw in the upload rows, and the XHR upload progress events.
    const w = window as unknown as { __percents: string[]; __progress: [number, number][] };
    w.__percents = [];
    w.__progress = [];
    const send = XMLHttpRequest.prototype.send;
    XMLHttpRequest.prototype.send = function (this: XMLHttpRequest, body) {
      this.upload.addEventListener('progress', (e) => w.__progress.push([e.loaded, e.total]));
      return send.call(this, body);
    };
    new MutationObserver(() => {
      for (const el of Array.from(document.querySelectorAll('.upload-percent'))) {
        const value = el.textContent ?? '';
        if (w.__percents.at(-1) !== value) w.__percents.push(value);
      }
    }).observe(document, { subtree: true, childList: true, characterData: true });
  });
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(`${name}: ${error.message}`));
  const errors: string[] = [];
  consoleErrors.set(userId, errors);
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`${message.text()} ${message.location().url}`);
  });
  await page.goto('/');
  if (options.lang === 'en') await page.getByRole('button', { name: 'Switch to English' }).click();
  const label = options.lang === 'en' ? 'Your name' : 'Seu nome';
  await page.getByLabel(label).fill(name);
  await page.getByRole('button', { name: options.lang === 'en' ? 'Sign in' : 'Entrar', exact: true }).click();
  await see(page.getByTestId('balance'));
  return { context, page, errors };
}

const jobCard = (page: Page) => page.locator('.job-region article.job-card');

async function waitForStatus(page: Page, status: string, timeout = 20_000) {
  await see(jobCard(page).getByTestId('status').filter({ hasText: status }), timeout);
}

/** The layout fits the phone: nothing wider than the screen. */
async function expectFits(page: Page) {
  const widths = await page.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
  expect(widths[0]).toBeLessThanOrEqual(widths[1] as number);
}

async function balanceText(page: Page) {
  return text(page.getByTestId('balance'));
}

/** Waits (up to see()'s limit, not a poll's 1 s) until the header shows exactly this balance. */
async function seeBalance(page: Page, expected: string) {
  await see(page.getByTestId('balance').filter({ hasText: new RegExp(`^${expected}$`) }));
}

async function submitButton(page: Page) {
  return page.locator('form.tool-form button[type="submit"]');
}

async function chooseTool(page: Page, name: string) {
  await page.locator('.tool-grid').getByRole('button', { name }).click();
}

/** Limits the page's upload speed (bytes per second) through the DevTools protocol. */
async function throttleUploads(context: BrowserContext, page: Page, bytesPerSecond: number) {
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: bytesPerSecond,
  });
  return cdp;
}

// --- the suite ---------------------------------------------------------------------------------

describe.skipIf(!hasChromium)('the web app on a phone', () => {
  it('signs in, adds credits, and upscales an image 4× with real upload progress and a before/after result', async () => {
    const context = await phoneContext(browser, stack.url);
    contexts.push(context);
    const first = await context.newPage();
    await first.goto('/');
    await see(first.getByRole('heading', { name: 'Entrar' }));
    expect(await first.evaluate(() => document.documentElement.lang)).toBe('pt-BR');
    await first.getByLabel('Seu nome').fill('Ana Souza');
    await see(first.getByText('Você entrará como “ana-souza”.'));
    await screenshot(first, '01-sign-in');
    await expectAccessible(first, 'sign-in (pt-BR)');
    await context.close();

    const { context: phone, page, errors } = await openApp('ana-souza');
    // A new user: the one-time sign-up grant (SIGNUP_CREDITS, 3), shown in the credit statement.
    expect(await balanceText(page)).toBe('Saldo: 3 créditos');
    const ledger = page.getByTestId('ledger').locator('li');
    await see(page.getByRole('heading', { name: 'Extrato de créditos' }));
    await see(ledger.filter({ hasText: 'Bônus de boas-vindas' }));
    expect(await text(ledger.first())).toMatch(/^Bônus de boas-vindas.*\+3 créditos\s*saldo 3 créditos$/);
    await page.getByRole('button', { name: '+20 créditos (teste)' }).click();
    await seeBalance(page, 'Saldo: 23 créditos');

    // The manifest and icons make it installable.
    const manifest = await page.evaluate(async () => {
      const href = document.querySelector<HTMLLinkElement>('link[rel="manifest"]')?.href ?? '';
      const body = await (await fetch(href)).json();
      const icons = await Promise.all(body.icons.map(async (i: { src: string }) => (await fetch(i.src)).status));
      return { display: body.display, icons, viewport: document.querySelector('meta[name="viewport"]')?.getAttribute('content') };
    });
    expect(manifest).toEqual({
      display: 'standalone',
      icons: [200, 200, 200, 200],
      viewport: expect.stringContaining('viewport-fit=cover'),
    });

    await page.locator('label', { hasText: '4×' }).click();
    expect(await text(page.getByTestId('price'))).toBe('Custa 2 créditos · seu saldo: 23 créditos');
    await page.setInputFiles('#file-upscale-image-image', file.big as string);
    await see(page.getByText('big.png'));
    await expectFits(page);
    await screenshot(page, '02-tool-form');
    await expectAccessible(page, 'tool form (pt-BR)');

    // ~1.4 MB at 1 MB/s: several progress events, the bar climbing to 100%.
    const cdp = await throttleUploads(phone, page, 1_000_000);
    await (await submitButton(page)).click();
    await see(page.getByRole('heading', { name: 'Enviando arquivos' }));
    await page.waitForFunction(
      () =>
        Number(document.querySelector('.upload-row progress')?.getAttribute('value') ?? 0) > 0 ||
        (document.querySelector<HTMLProgressElement>('.upload-row progress')?.value ?? 0) > 0,
    );
    await screenshot(page, '03-uploading');
    await expectAccessible(page, 'uploading (pt-BR)');
    await waitForStatus(page, 'Pronto');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });

    const observed = await page.evaluate(() => {
      const w = window as unknown as { __percents: string[]; __progress: [number, number][] };
      return { percents: w.__percents, progress: w.__progress };
    });
    expect(observed.progress.length).toBeGreaterThan(2);
    const [loaded, total] = observed.progress.at(-1) as [number, number];
    expect(loaded).toBe(total);
    expect(observed.percents.at(-1)).toBe('Enviado · 100%');
    expect(observed.percents.some((p) => /^([1-9]|[1-9]\d)%$/.test(p))).toBe(true); // something in between

    // The result: a before/after slider whose "after" is exactly 4× the original, and a download link.
    const after = page.locator('.compare img.compare-after');
    await see(after);
    await page.waitForFunction(() => (document.querySelector<HTMLImageElement>('.compare img.compare-after')?.naturalWidth ?? 0) > 0);
    expect(await after.evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight])).toEqual([4000, 2800]);
    const slider = page.getByRole('slider', { name: 'Comparar antes e depois' });
    await slider.focus();
    for (let i = 0; i < 5; i++) await page.keyboard.press('ArrowLeft');
    expect(await page.locator('.compare').evaluate((el: HTMLElement) => el.style.getPropertyValue('--pos'))).toBe('45%');
    const download = page.getByRole('link', { name: /Baixar resultado/ });
    expect(await download.getAttribute('href')).toContain('/s3/');
    expect(await download.getAttribute('download')).toMatch(/\.png$/);
    await seeBalance(page, 'Saldo: 21 créditos');
    await expectFits(page);
    await screenshot(page, '04-result-upscale');
    await expectAccessible(page, 'result (pt-BR)');

    const history = page.locator('.history-item');
    await see(history.filter({ hasText: 'Pronto' }));
    expect(await text(history.first())).toContain('2 créditos cobrados');
    await page.locator('.history').scrollIntoViewIfNeeded();
    await screenshot(page, '05-history');
    // The statement explains the balance, newest first: the charge, the test top-up, the sign-up grant.
    await see(ledger.filter({ hasText: 'Pedido cobrado' }));
    expect(await Promise.all((await ledger.all()).map(text))).toEqual([
      expect.stringMatching(/^Pedido cobrado.*−2 créditos\s*saldo 21 créditos$/),
      expect.stringMatching(/^Ajuste de saldo.*\+20 créditos\s*saldo 23 créditos$/),
      expect.stringMatching(/^Bônus de boas-vindas.*\+3 créditos\s*saldo 3 créditos$/),
    ]);
    await page.locator('.ledger').scrollIntoViewIfNeeded();
    await screenshot(page, '05b-credit-statement');
    await expectAccessible(page, 'credit statement (pt-BR)');
    // Waiting for the S3 event polled the history, never a GET /jobs/{id} answered 404.
    expect(errors).toEqual([]);
  }, 120_000);

  it('runs the pose changer and the virtual try-on end to end', async () => {
    const { page, errors } = await openApp('bruno', { balance: 20 });
    await chooseTool(page, 'Trocar pose');
    expect(await text(page.getByTestId('price'))).toBe('Custa 2 créditos · seu saldo: 20 créditos');
    // Both inputs are required: the form says which one is missing without asking the API.
    await page.setInputFiles('#file-pose-changer-person', file.person as string);
    await (await submitButton(page)).click();
    expect(await text(page.getByTestId('form-error'))).toBe('Escolha um arquivo para “Foto da pose”.');
    await page.setInputFiles('#file-pose-changer-pose', file.pose as string);
    await (await submitButton(page)).click();
    await waitForStatus(page, 'Pronto');
    // The local provider puts person and pose side by side (twice as wide as the person): still a slider,
    // "Antes" (the person) letterboxed into the result's frame, "Antes" left of "Depois", never stacked.
    const poseResult = page.locator('.compare img.compare-after');
    await see(poseResult);
    await page.waitForFunction(() => (document.querySelector<HTMLImageElement>('.compare img.compare-after')?.naturalWidth ?? 0) > 0);
    expect(await poseResult.evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight])).toEqual([600, 400]);
    await page.waitForFunction(() => (document.querySelector<HTMLImageElement>('.compare img.compare-before')?.naturalWidth ?? 0) > 0);
    expect(await page.locator('.compare img.compare-before').evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(300);
    await see(page.getByRole('slider', { name: 'Comparar antes e depois' }));
    const tags = await page
      .locator('.compare-tag')
      .evaluateAll((els) => els.map((el) => [el.textContent, el.getBoundingClientRect().left]));
    expect(tags.map(([label]) => label)).toEqual(['Antes', 'Depois']);
    expect(Number(tags[0]?.[1])).toBeLessThan(Number(tags[1]?.[1]));
    await screenshot(page, '06-result-pose');

    await page.getByRole('button', { name: 'Novo pedido' }).click();
    await chooseTool(page, 'Provador virtual');
    await page.locator('label', { hasText: 'Peça inteira' }).click();
    expect(await text(page.getByTestId('price'))).toBe('Custa 3 créditos · seu saldo: 18 créditos');
    await page.setInputFiles('#file-try-on-person', file.person as string);
    await page.setInputFiles('#file-try-on-garment', file.garment as string);
    await (await submitButton(page)).click();
    await waitForStatus(page, 'Pronto');
    await page.waitForFunction(() => (document.querySelector<HTMLImageElement>('.compare img.compare-after')?.naturalWidth ?? 0) > 0);
    expect(
      await page.locator('.compare img.compare-after').evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight]),
    ).toEqual([300, 400]);
    await seeBalance(page, 'Saldo: 15 créditos');
    await screenshot(page, '07-result-try-on');
    const token = await tokenOf('bruno');
    const jobs = (await api().call<{ jobs: Job[] }>('GET', '/api/jobs?limit=5', { token })).body.jobs;
    expect(jobs.map((j) => [j.tool, j.status, j.params])).toEqual([
      ['try-on', 'succeeded', { category: 'full' }],
      ['pose-changer', 'succeeded', {}],
    ]);

    // Reopened from history, after a reload: still before/after (the original is kept on this phone).
    await page.reload();
    await see(page.locator('.history-item'));
    await page
      .locator('.history-item')
      .filter({ hasText: 'Trocar pose' })
      .getByRole('button', { name: /^Ver pedido Trocar pose/ })
      .click();
    await see(jobCard(page).locator('.compare img.compare-before'));
    expect(await jobCard(page).getAttribute('data-job-id')).toBe(jobs[1]?.jobId);
    await screenshot(page, '07b-history-reopened-compare');
    expect(errors).toEqual([]);
  }, 120_000);

  it('upscales a video and plays it in a <video> player (or says clearly why not without ffmpeg)', async () => {
    const { page } = await openApp('clara', { balance: 10 });
    await chooseTool(page, 'Ampliar vídeo');
    expect(await text(page.getByTestId('price'))).toBe('Custa 5 créditos · seu saldo: 10 créditos');
    await page.setInputFiles('#file-upscale-video-video', file.video as string);
    await (await submitButton(page)).click();
    if (hasFfmpeg) {
      await waitForStatus(page, 'Pronto', 30_000);
      const video = page.locator('video.result-video');
      await see(video);
      expect(await video.getAttribute('src')).toContain('/s3/');
      const canPlay = await page.evaluate(() => document.createElement('video').canPlayType('video/mp4; codecs="avc1.42E01E"'));
      if (canPlay) {
        await page.waitForFunction(() => (document.querySelector<HTMLVideoElement>('video.result-video')?.videoWidth ?? 0) > 0, null, {
          timeout: 10_000,
        });
        expect(await video.evaluate((v: HTMLVideoElement) => [v.videoWidth, v.videoHeight])).toEqual([320, 240]);
      }
      expect(await page.getByRole('link', { name: /Baixar resultado/ }).getAttribute('download')).toMatch(/\.mp4$/);
      await seeBalance(page, 'Saldo: 5 créditos');
    } else {
      await waitForStatus(page, 'Falhou', 30_000);
      expect(await text(page.getByTestId('job-error'))).toBe(
        'O serviço de IA não conseguiu processar este pedido. Seus 5 créditos foram devolvidos.',
      );
      await seeBalance(page, 'Saldo: 10 créditos');
    }
    await screenshot(page, '08-result-video');
    await expectAccessible(page, 'video result (pt-BR)');
  }, 60_000);

  it('checks files before presigning, explains 402, S3 refusals and a fake PNG in plain words, and charges nothing', async () => {
    const { context, page, errors } = await openApp('duda', { balance: 20 });
    const uploadRequests: string[] = [];
    page.on('request', (request) => {
      if (request.url().endsWith('/api/uploads')) uploadRequests.push(request.method());
    });

    // Client-side, with the API's own rules and codes (415, 413): no request at all.
    await page.setInputFiles('#file-upscale-image-image', file.gif as string);
    await (await submitButton(page)).click();
    expect(await text(page.getByTestId('form-error'))).toBe('O tipo “image/gif” não é aceito em “Imagem”; use JPEG, PNG ou WebP.');
    await page.setInputFiles('#file-upscale-image-image', file.huge as string);
    await (await submitButton(page)).click();
    expect(await text(page.getByTestId('form-error'))).toBe('O arquivo de “Imagem” passa do limite de 20 MB.');
    expect(uploadRequests).toEqual([]);

    // A text file named .png: S3 stores it, the S3 event sniffs it, the job is created failed with INVALID_INPUT.
    await page.setInputFiles('#file-upscale-image-image', file.fake as string);
    await (await submitButton(page)).click();
    await waitForStatus(page, 'Falhou');
    expect(await text(page.getByTestId('job-error'))).toBe(
      'O arquivo não é o que parece: o conteúdo não corresponde ao tipo do arquivo (por exemplo, um texto renomeado para .png). Nada foi cobrado.',
    );
    expect(await balanceText(page)).toBe('Saldo: 20 créditos');
    await screenshot(page, '09-invalid-input');
    await expectAccessible(page, 'failed job (pt-BR)');
    await page.getByRole('button', { name: 'Novo pedido' }).click();

    // S3 refuses the upload (here: the POST no longer matches its policy): its XML error, in words; no job.
    await page.route('**/api/uploads', async (route) => {
      const response = await route.fetch();
      const body = await response.json();
      body.uploads[0].fields['Content-Type'] = 'image/jpeg';
      await route.fulfill({ response, json: body });
    });
    await page.setInputFiles('#file-upscale-image-image', file.photo as string);
    await (await submitButton(page)).click();
    await see(page.getByTestId('form-error').filter({ hasText: 'O envio falhou' }));
    const refused = await text(page.getByTestId('form-error'));
    expect(refused).toMatch(
      /^O envio falhou: o armazenamento recusou o arquivo \(AccessDenied: .*Policy.*\)\. Nenhum pedido foi criado e nada foi cobrado\.$/,
    );
    await page.unroute('**/api/uploads');

    // Cancel mid-upload (xhr.abort()): nothing created, nothing charged.
    const cdp = await throttleUploads(context, page, 150_000);
    await page.setInputFiles('#file-upscale-image-image', file.big as string);
    await (await submitButton(page)).click();
    await page.waitForFunction(() => /^[1-9]\d?%$/.test(document.querySelector('.upload-percent')?.textContent ?? ''));
    await screenshot(page, '10-upload-in-progress');
    await page.getByRole('button', { name: 'Cancelar envio de Imagem' }).click();
    await see(page.getByTestId('form-error').filter({ hasText: 'Envio cancelado' }));
    expect(await text(page.getByTestId('form-error'))).toBe('Envio cancelado. Nenhum pedido foi criado e nada foi cobrado.');
    await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });

    // The balance dropped elsewhere: "Enviar" checks it first (GET /credits), sends no POST the API would
    // refuse with 402, and is then disabled with the reason, which goes as soon as its cause does.
    await setBalance('duda', 1);
    await page.locator('label', { hasText: '4×' }).click();
    await page.setInputFiles('#file-upscale-image-image', file.photo as string);
    const postsBefore = uploadRequests.length;
    await (await submitButton(page)).click();
    await see(page.getByTestId('block-reason').filter({ hasText: 'Saldo insuficiente' }));
    expect(await text(page.getByTestId('block-reason'))).toBe('Saldo insuficiente: este pedido custa 2 créditos e seu saldo é 1 crédito.');
    expect(await (await submitButton(page)).isDisabled()).toBe(true);
    expect(await balanceText(page)).toBe('Saldo: 1 crédito');
    expect(uploadRequests.length).toBe(postsBefore);
    await screenshot(page, '11-insufficient-credits');
    await expectAccessible(page, 'credits short (pt-BR)');
    await page.locator('label', { hasText: '2×' }).click();
    expect(await page.getByTestId('block-reason').count()).toBe(0);
    expect(await (await submitButton(page)).isDisabled()).toBe(false);
    // The only console error is the S3 refusal forced above (403): a failed resource is logged, so this
    // check can tell; nothing else on these paths is.
    expect(errors).toEqual([expect.stringMatching(/403.*\/s3\//)]);

    const token = await tokenOf('duda');
    const jobs = (await api().call<{ jobs: Job[] }>('GET', '/api/jobs?limit=10', { token })).body.jobs;
    expect(jobs.map((j) => [j.status, j.error?.code, j.refunded])).toEqual([['failed', 'INVALID_INPUT', false]]);
  }, 120_000);

  it('shows the live queue position, keeps it across a reload, disables the form, blocks a job from elsewhere with the modal, frees the queue and cancels', async () => {
    // Two other users fill the only slot and the queue's first place.
    const blocker = (await api().user('xavier', 10)).token;
    const filler = (await api().user('yara', 10)).token;
    const input = [{ slot: 'image', contentType: 'image/png', body: await image('png', 64, 48) }];
    stack.provider.hangNextTask();
    const blockerJob = await api().submit(blocker, 'upscale-image', input, { scale: 2 });
    await api().waitForJob(blocker, blockerJob, (j) => j.status === 'running');
    const fillerJob = await api().submit(filler, 'upscale-image', input, { scale: 2 });
    await api().waitForJob(filler, fillerJob, (j) => j.status === 'queued');

    const { page, errors } = await openApp('eduardo', { balance: 20 });
    const notFound: string[] = [];
    const uploadPosts: number[] = [];
    page.on('response', (response) => {
      if (response.status() === 404) notFound.push(response.url());
      if (response.url().endsWith('/api/uploads')) uploadPosts.push(response.status());
    });
    await page.setInputFiles('#file-upscale-image-image', file.photo as string);
    await (await submitButton(page)).click();
    await see(page.getByTestId('queue-position').filter({ hasText: 'Posição na fila: 2ª' }));
    expect(await text(page.getByTestId('queue-ahead'))).toBe('1 pedido antes do seu.');
    const jobId = await jobCard(page).getAttribute('data-job-id');
    expect(await text(jobCard(page).getByTestId('elapsed'))).toMatch(/^Esperando há 0:\d\d$/);
    await seeBalance(page, 'Saldo: 19 créditos');
    // While it waits, the form cannot be used, and says why.
    expect(await page.locator('form.tool-form fieldset.form-fields').evaluate((f: HTMLFieldSetElement) => f.disabled)).toBe(true);
    expect(await page.locator('#file-upscale-image-image').isDisabled()).toBe(true);
    expect(await (await submitButton(page)).isDisabled()).toBe(true);
    expect(await text(page.getByTestId('block-reason'))).toBe(
      'Você já tem um pedido em andamento. Quando ele terminar, ou se você cancelá-lo, dá para enviar outro.',
    );
    await expectFits(page);
    await screenshot(page, '12-queued');
    await expectAccessible(page, 'queued, form disabled (pt-BR)');

    // Hidden: polling backs off; visible again: it polls at once.
    const polls: number[] = [];
    page.on('request', (request) => {
      if (request.url().endsWith(`/api/jobs/${jobId}`)) polls.push(Date.now());
    });
    await page.evaluate(() => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await page.waitForTimeout(1500); // a poll already scheduled may still run
    const hiddenStart = polls.length;
    await page.waitForTimeout(2500); // visible, it would have polled twice by now; hidden, the next poll is ≥5 s away
    expect(polls.length - hiddenStart).toBe(0);
    const before = polls.length;
    await page.evaluate(() => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'visible' });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await expect.poll(() => polls.length, { timeout: 1000, interval: 50 }).toBeGreaterThan(before);

    // Leaving and coming back: the job is restored with its place in the queue, in either language.
    await page.reload();
    await see(page.getByTestId('queue-position').filter({ hasText: 'Posição na fila: 2ª' }));
    expect(await jobCard(page).getAttribute('data-job-id')).toBe(jobId);
    await page.getByRole('button', { name: 'Switch to English' }).click();
    await see(page.getByTestId('queue-position').filter({ hasText: 'Place in line: 2nd' }));
    expect(await text(page.getByTestId('queue-ahead'))).toBe('1 job ahead of yours.');
    expect(await text(page.getByTestId('block-reason'))).toBe(
      'You already have a job in progress. When it ends, or if you cancel it, you can start another.',
    );
    await expectAccessible(page, 'queued, form disabled (en)');
    await page.getByRole('button', { name: 'Mudar para português' }).click();
    await see(page.getByTestId('queue-position').filter({ hasText: 'Posição na fila: 2ª' }));

    // Cancel while queued: refunded, and the dialog says so before confirming. Cancelled is not an error.
    await jobCard(page).getByRole('button', { name: 'Cancelar pedido' }).click();
    const confirmQueued = page.getByRole('dialog', { name: 'Cancelar este pedido?' });
    expect(await text(confirmQueued.getByTestId('confirm-message'))).toBe('Ele sai da fila e seu 1 crédito é devolvido.');
    await expectAccessible(page, 'confirm cancel (pt-BR)');
    await confirmQueued.getByRole('button', { name: 'Sim, cancelar' }).click();
    await waitForStatus(page, 'Cancelado');
    expect(await text(page.getByTestId('job-error'))).toBe('Você cancelou este pedido. Seu 1 crédito foi devolvido.');
    expect(await page.getByTestId('job-error').getAttribute('class')).not.toContain('is-error');
    await seeBalance(page, 'Saldo: 20 créditos');
    // …and the form is usable again, by itself.
    await see(page.locator('form.tool-form fieldset.form-fields:not([disabled])'));
    expect(await page.getByTestId('block-reason').count()).toBe(0);

    // A job started on another device: the page does not know it, "Enviar" asks first (GET /jobs/active)
    // and shows the block modal instead of a POST the API would refuse with 409.
    const elsewhere = await api().submit(await tokenOf('eduardo'), 'upscale-image', input, { scale: 2 });
    await api().waitForJob(await tokenOf('eduardo'), elsewhere, (j) => j.status === 'queued');
    await chooseTool(page, 'Trocar pose');
    await page.setInputFiles('#file-pose-changer-person', file.person as string);
    await page.setInputFiles('#file-pose-changer-pose', file.pose as string);
    await (await submitButton(page)).click();
    const modal = page.getByRole('dialog', { name: 'Você já tem um pedido em andamento' });
    await see(modal);
    const summary = await text(modal.getByTestId('active-job'));
    expect(summary).toContain('Ampliar imagem');
    expect(summary).toContain('Na fila');
    expect(summary).toContain('Posição na fila: 2ª');
    expect(summary).toMatch(/criado (agora|há \d+ segundos?)/);
    await see(modal.getByRole('button', { name: 'Ver pedido' }));
    await expectFits(page);
    await screenshot(page, '13-active-job-modal');
    await expectAccessible(page, 'active-job modal (pt-BR)');
    await modal.getByRole('button', { name: 'Liberar fila' }).click();
    // The title now says what happened; the pose job was never sent, so it is offered as "Enviar agora".
    const released = page.getByRole('dialog', { name: 'Fila liberada' });
    await see(released.getByText('Fila liberada: 1 pedido cancelado, créditos devolvidos.'));
    await see(released.getByTestId('active-job').getByTestId('status').filter({ hasText: 'Cancelado' }));
    expect(await modal.count()).toBe(0);
    expect(await released.getByRole('button', { name: 'Enviar de novo' }).count()).toBe(0);
    await seeBalance(page, 'Saldo: 20 créditos');
    await screenshot(page, '14-queue-released');
    await expectAccessible(page, 'queue released (pt-BR)');
    await released.getByRole('button', { name: 'Enviar agora' }).click();
    await see(page.getByTestId('queue-position').filter({ hasText: 'Posição na fila: 2ª' }));
    expect(await jobCard(page).getAttribute('data-job-id')).not.toBe(jobId);
    await seeBalance(page, 'Saldo: 18 créditos');

    await jobCard(page).getByRole('button', { name: 'Cancelar pedido' }).click();
    await page.getByRole('dialog', { name: 'Cancelar este pedido?' }).getByRole('button', { name: 'Sim, cancelar' }).click();
    await waitForStatus(page, 'Cancelado');
    await seeBalance(page, 'Saldo: 20 créditos');

    // Free the slot; the filler runs and finishes; then a job of ours that runs (and hangs) is cancelled: no refund.
    expect((await api().call('POST', `/api/jobs/${blockerJob}/cancel`, { token: blocker })).status).toBe(200);
    await api().waitForJob(filler, fillerJob);
    await page.getByRole('button', { name: 'Novo pedido' }).click();
    stack.provider.hangNextTask();
    await (await submitButton(page)).click();
    await waitForStatus(page, 'Processando');
    await see(
      jobCard(page)
        .getByTestId('elapsed')
        .filter({ hasText: /^Tempo decorrido: 0:\d\d$/ }),
    );
    // The badge says "Processando"; nothing else on the card repeats it.
    expect((await text(jobCard(page))).split('Processando').length - 1).toBe(1);
    await screenshot(page, '15-running');
    await expectAccessible(page, 'running (pt-BR)');
    await jobCard(page).getByRole('button', { name: 'Cancelar pedido' }).click();
    const confirmRunning = page.getByRole('dialog', { name: 'Cancelar este pedido?' });
    expect(await text(confirmRunning.getByTestId('confirm-message'))).toBe(
      'Ele já está em processamento: os 2 créditos NÃO serão devolvidos.',
    );
    await screenshot(page, '16-confirm-cancel-running');
    await confirmRunning.getByRole('button', { name: 'Sim, cancelar' }).click();
    await waitForStatus(page, 'Cancelado');
    expect(await text(page.getByTestId('job-error'))).toBe(
      'Você cancelou este pedido. Os 2 créditos não foram devolvidos: o pedido já estava em processamento.',
    );
    await seeBalance(page, 'Saldo: 18 créditos');

    // History: every job with its outcome in plain words and its refund; cancelled rows in neutral colours.
    await page.getByRole('button', { name: 'Atualizar' }).click();
    await see(page.locator('.history-item').nth(3));
    expect(await page.locator('.history-item').count()).toBe(4);
    const rows = await page.locator('.history-item').allTextContents();
    expect(rows[0]).toContain('2 créditos cobrados');
    expect(rows[1]).toContain('2 créditos devolvidos');
    expect(rows[2]).toContain('1 crédito devolvido');
    expect(rows[3]).toContain('1 crédito devolvido');
    expect(await page.locator('.history-item .history-error').count()).toBe(0);
    const colours = await page.evaluate(() => {
      const outcome = document.querySelector('.history-item.job-cancelled .history-outcome');
      const muted = document.querySelector('.history-item .muted');
      return outcome && muted ? [getComputedStyle(outcome).color, getComputedStyle(muted).color] : [];
    });
    expect(colours).toHaveLength(2);
    expect(colours[0]).toBe(colours[1]);
    await expectTouchTarget(
      'Ver',
      page
        .locator('.history-item')
        .first()
        .getByRole('button', { name: /^Ver pedido/ }),
    );
    await expectTouchTarget('Atualizar', page.getByRole('button', { name: 'Atualizar' }));
    await page.locator('.history').scrollIntoViewIfNeeded();
    await expectFits(page);
    await screenshot(page, '17-history');
    await expectAccessible(page, 'history (pt-BR)');

    // No 404 while the jobs were being created, no 402/409 POST: nothing for the console to log.
    expect(notFound).toEqual([]);
    expect(uploadPosts).toEqual([201, 201, 201]); // the upscale, "Enviar agora", the run cancelled while running
    expect(errors).toEqual([]);
  }, 120_000);

  it('speaks English when asked, remembers it, and restores a finished job after a reload', async () => {
    const { page, errors } = await openApp('fernanda', { balance: 5, lang: 'en' });
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('en');
    await see(page.getByRole('heading', { name: 'Choose a tool' }));
    await expectAccessible(page, 'tool form (en)');
    expect(await balanceText(page)).toBe('Balance: 5 credits');
    await see(page.getByRole('heading', { name: 'Credit statement' }));
    expect(await text(page.getByTestId('ledger').locator('li').first())).toMatch(/^Balance adjustment.*\+5 credits\s*balance 5 credits$/);
    await page.setInputFiles('#file-upscale-image-image', file.gif as string);
    await (await submitButton(page)).click();
    // In English the message is the API's own sentence.
    expect(await text(page.getByTestId('form-error'))).toBe(
      '"image/gif" is not accepted for "image"; use image/jpeg, image/png, image/webp.',
    );
    await page.setInputFiles('#file-upscale-image-image', file.photo as string);
    await (await submitButton(page)).click();
    await waitForStatus(page, 'Done');
    await page.reload();
    await waitForStatus(page, 'Done');
    await see(page.getByRole('link', { name: /Download result/ }));
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('en');
    await see(page.locator('.history-item').filter({ hasText: '1 credit charged' }));
    await expectFits(page);
    await screenshot(page, '18-english-result');
    await expectAccessible(page, 'result and history (en)');
    await expectTouchTarget(
      'View',
      page
        .locator('.history-item')
        .first()
        .getByRole('button', { name: /^View / }),
    );
    await page.getByRole('button', { name: 'Sign out', exact: true }).click();
    await see(page.getByRole('heading', { name: 'Sign in' }));
    await see(page.getByRole('button', { name: 'fernanda' }));
    await expectAccessible(page, 'sign-in (en)');
    expect(errors).toEqual([]);
  }, 120_000);

  it('fixes what a Brazilian phone user met: her name, the tool kept, focus, touch targets, a credits error that clears', async () => {
    const userId = 'maria-da-conceicao';
    const { page, errors } = await openApp('Maria da Conceição', { balance: 0, userId });
    // Her name as she typed it, not its id.
    expect(await text(page.getByTestId('footer'))).toBe('Conectado como Maria da Conceição');
    await page.locator('.tool-grid').scrollIntoViewIfNeeded();
    // 0 credits: "Enviar" is disabled with the reason before she presses anything.
    await page.setInputFiles('#file-upscale-image-image', file.photo as string);
    expect(await (await submitButton(page)).isDisabled()).toBe(true);
    expect(await text(page.getByTestId('block-reason'))).toBe('Saldo insuficiente: este pedido custa 1 crédito e seu saldo é 0 créditos.');
    await expectTouchTarget('+20 créditos (teste)', page.getByRole('button', { name: '+20 créditos (teste)' }));
    await expectTouchTarget('Atualizar', page.getByRole('button', { name: 'Atualizar' }));
    await screenshot(page, '19-credits-short');
    await expectAccessible(page, 'credits short (pt-BR)');
    // Credits added: the error goes by itself, "Enviar" is enabled, no other file to pick.
    await page.getByRole('button', { name: '+20 créditos (teste)' }).click();
    await seeBalance(page, 'Saldo: 20 créditos');
    expect(await page.getByTestId('block-reason').count()).toBe(0);
    expect(await text(page.getByTestId('form-error'))).toBe('');
    expect(await (await submitButton(page)).isDisabled()).toBe(false);

    // One real job, so her history has a run time to estimate from.
    await (await submitButton(page)).click();
    await waitForStatus(page, 'Pronto');
    await page.getByRole('button', { name: 'Novo pedido' }).click();

    // The tool she picked survives a reload; focus is left alone (not on <main>, no outline under the header).
    await chooseTool(page, 'Trocar pose');
    await page.reload();
    await see(page.getByTestId('balance'));
    await see(page.locator('.tool-grid [data-tool="pose-changer"][aria-pressed="true"]'));
    expect(await page.evaluate(() => document.activeElement?.tagName)).toBe('BODY');
    expect(await page.locator('main').evaluate((m) => getComputedStyle(m).outlineStyle)).toBe('none');
    await screenshot(page, '20-after-reload');

    // In English: the same, and the balance dropped elsewhere is caught before any POST.
    await page.getByRole('button', { name: 'Switch to English' }).click();
    expect(await text(page.getByTestId('footer'))).toBe('Signed in as Maria da Conceição');
    await setBalance(userId, 1);
    await page.setInputFiles('#file-pose-changer-person', file.person as string);
    await page.setInputFiles('#file-pose-changer-pose', file.pose as string);
    const posts: string[] = [];
    page.on('request', (request) => {
      if (request.url().endsWith('/api/uploads')) posts.push(request.method());
    });
    await (await submitButton(page)).click();
    await see(page.getByTestId('block-reason').filter({ hasText: 'Not enough credits' }));
    expect(await text(page.getByTestId('block-reason'))).toBe('Not enough credits: this job costs 2 credits and your balance is 1 credit.');
    expect(await (await submitButton(page)).isDisabled()).toBe(true);
    expect(posts).toEqual([]);
    await expectTouchTarget('+20 credits (test)', page.getByRole('button', { name: '+20 credits (test)' }));
    await screenshot(page, '21-credits-short-en');
    await expectAccessible(page, 'credits short (en)');
    await page.getByRole('button', { name: '+20 credits (test)' }).click();
    await page.getByTestId('block-reason').waitFor({ state: 'detached', timeout: 15_000 });

    // The block modal and the cancel dialog in English: another user holds the only slot, a job of hers
    // started elsewhere waits first in line.
    const blocker = (await api().user('zeca', 10)).token;
    const input = [{ slot: 'image', contentType: 'image/png', body: await image('png', 64, 48) }];
    stack.provider.hangNextTask();
    const blockerJob = await api().submit(blocker, 'upscale-image', input, { scale: 2 });
    await api().waitForJob(blocker, blockerJob, (j) => j.status === 'running');
    const token = await tokenOf(userId);
    const elsewhere = await api().submit(token, 'upscale-image', input, { scale: 2 });
    await api().waitForJob(token, elsewhere, (j) => j.status === 'queued');
    await (await submitButton(page)).click();
    const modal = page.getByRole('dialog', { name: 'You already have a job in progress' });
    await see(modal);
    expect(await text(modal.getByTestId('active-job'))).toContain('Place in line: 1st');
    await expectAccessible(page, 'active-job modal (en)');
    await modal.getByRole('button', { name: 'Free the queue' }).click();
    const released = page.getByRole('dialog', { name: 'Queue freed' });
    await see(released.getByText('Queue freed: 1 job cancelled, credits refunded.'));
    await screenshot(page, '22-queue-freed-en');
    await expectAccessible(page, 'queue freed (en)');
    await released.getByRole('button', { name: 'Start it now' }).click();
    await see(page.getByTestId('queue-position').filter({ hasText: 'Place in line: 1st' }));
    expect(await text(page.getByTestId('queue-ahead'))).toBe('Yours is next.');
    // An estimate from her own recent run (well under a minute here), worded as one, in both languages.
    await see(page.getByTestId('estimate'));
    expect(await text(page.getByTestId('estimate'))).toBe('Estimated wait: under a minute (only an estimate; it may vary).');
    await screenshot(page, '23-queued-estimate-en');
    await page.getByRole('button', { name: 'Mudar para português' }).click();
    expect(await text(page.getByTestId('estimate'))).toBe('Espera estimada: menos de 1 minuto (é só uma estimativa, pode variar).');
    await page.getByRole('button', { name: 'Switch to English' }).click();
    await jobCard(page).getByRole('button', { name: 'Cancel job' }).click();
    const confirm = page.getByRole('dialog', { name: 'Cancel this job?' });
    expect(await text(confirm.getByTestId('confirm-message'))).toBe('It leaves the queue and your 2 credits are refunded.');
    await expectAccessible(page, 'confirm cancel (en)');
    await confirm.getByRole('button', { name: 'Yes, cancel' }).click();
    await waitForStatus(page, 'Cancelled');
    expect((await api().call('POST', `/api/jobs/${blockerJob}/cancel`, { token: blocker })).status).toBe(200);

    // Running past her usual run time: the estimate says so instead of counting below zero.
    await page.getByRole('button', { name: 'Start another' }).click();
    stack.provider.hangNextTask();
    await (await submitButton(page)).click();
    await waitForStatus(page, 'Processing');
    await see(page.getByTestId('estimate').filter({ hasText: 'Taking longer than usual' }));
    await screenshot(page, '24-running-estimate-en');
    await expectAccessible(page, 'running (en)');
    await jobCard(page).getByRole('button', { name: 'Cancel job' }).click();
    await page.getByRole('dialog', { name: 'Cancel this job?' }).getByRole('button', { name: 'Yes, cancel' }).click();
    await waitForStatus(page, 'Cancelled');
    expect(errors).toEqual([]);
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
