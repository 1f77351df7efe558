import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

/** Drives the system Chromium (apt `chromium`) through playwright-core: no browser download. */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM_PATH);
const SCREENSHOT_DIR = join(ROOT, 'test-output', 'screenshots');

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** A fresh headless Chromium; playwright gives each launch its own temporary user-data-dir, removed on close. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: ARGS, timeout: 30_000 });
}

/** A phone-sized, touch, pt-BR context (an iPhone 12-14 class screen): storage starts empty. */
export function phoneContext(browser: Browser, baseURL: string, options: { locale?: string } = {}): Promise<BrowserContext> {
  return browser.newContext({
    baseURL,
    viewport: { width: 390, height: 844 },
    deviceScaleFactor: 2,
    isMobile: true,
    hasTouch: true,
    locale: options.locale ?? 'pt-BR',
    timezoneId: 'America/Sao_Paulo',
  });
}

function newestMtime(path: string): number {
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  return Math.max(info.mtimeMs, ...readdirSync(path).map((name) => newestMtime(join(path, name))));
}

/**
 * Makes sure web/dist holds a build of the current sources: `npm test` builds it first; a direct
 * `vitest run test/e2e/web.test.ts` builds it here when it is missing or older than web/src.
 */
export function ensureWebBuild() {
  const built = join(ROOT, 'web', 'dist', 'index.html');
  const sources = ['src', 'sw', 'public', 'index.html', 'vite.config.ts', 'pwa-icons.ts', 'service-worker.ts']
    .map((p) => join(ROOT, 'web', p))
    .filter(existsSync);
  if (existsSync(built) && statSync(built).mtimeMs >= Math.max(...sources.map(newestMtime))) return;
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', 'web', '--logLevel', 'warn'], {
    cwd: ROOT,
    stdio: 'inherit',
    timeout: 120_000,
  });
}

/** Saves a viewport screenshot under test-output/screenshots/ (git-ignored). */
export async function screenshot(page: Page, name: string, fullPage = false) {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  // Let smooth scrolling settle, so the picture is what the user ends up seeing.
  await page.evaluate(
    () =>
      new Promise<void>((resolve) => {
        let last = -1;
        let still = 0;
        const check = () => {
          still = window.scrollY === last ? still + 1 : 0;
          last = window.scrollY;
          if (still >= 3) resolve();
          else setTimeout(check, 50);
        };
        check();
      }),
  );
  await page.screenshot({ path: join(SCREENSHOT_DIR, `${name}.png`), fullPage, animations: 'disabled' });
}
