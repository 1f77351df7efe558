import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureWebBuild, hasChromium, launchBrowser, phoneContext } from '../support/browser';
import { type StartedTestStack, startTestStack } from '../support/started-stack';
import { synth } from '../support/synth';

/**
 * The local stack serves no CloudFront headers, so this test puts them back: it reads the response
 * headers policy from the synthesized template and adds its headers to every document the browser loads,
 * then drives the SPA through sign-in, an upload and its result in Chromium and records every
 * `securitypolicyviolation`. The media bucket's host in the CSP stands for the local stack's S3 endpoint.
 */

type Part = string | { 'Fn::GetAtt'?: [string, string]; Ref?: string };

/** The CSP and the other security headers exactly as CloudFront would send them, the bucket host replaced by `mediaOrigin`. */
function edgeHeaders(mediaOrigin: string) {
  const { template } = synth();
  const [policy] = Object.values(template.findResources('AWS::CloudFront::ResponseHeadersPolicy')) as {
    // biome-ignore lint/suspicious/noExplicitAny: the template's header policy, read as loose JSON.
    Properties: { ResponseHeadersPolicyConfig: { SecurityHeadersConfig: Record<string, any> } };
  }[];
  const security = policy?.Properties.ResponseHeadersPolicyConfig.SecurityHeadersConfig ?? {};
  /** Stands for the bucket's domain (a template reference) until it is swapped for the local S3 endpoint. */
  const BUCKET_HOST = 'bucket.invalid';
  const raw = security.ContentSecurityPolicy.ContentSecurityPolicy as string | { 'Fn::Join': [string, Part[]] };
  const parts = typeof raw === 'string' ? [raw] : raw['Fn::Join'][1];
  const csp = parts
    .map((part) => {
      if (typeof part === 'string') return part;
      const [, attribute] = part['Fn::GetAtt'] ?? [];
      if (attribute === 'RegionalDomainName' || attribute === 'DomainName') return BUCKET_HOST;
      // The push channel's `wss://<api id>.execute-api.<region>.<suffix>/live`: locally the SPA reaches it on its own origin.
      if (part.Ref) return 'ref';
      throw new Error(`unexpected token in the CSP: ${JSON.stringify(part)}`);
    })
    .join('')
    // `https://<bucket host>` → the local S3 endpoint (plain http, no TLS locally).
    .replaceAll(`https://${BUCKET_HOST}`, mediaOrigin);
  return {
    'content-security-policy': csp,
    'x-content-type-options': 'nosniff',
    'x-frame-options': security.FrameOptions.FrameOption,
    'referrer-policy': security.ReferrerPolicy.ReferrerPolicy,
  };
}

let stack: StartedTestStack;
let headers: Record<string, string>;
let browser: Browser;
let dir: string;
let csp: string;

beforeAll(async () => {
  if (!hasChromium) return;
  ensureWebBuild();
  dir = mkdtempSync(join(tmpdir(), 'ghostless-csp-'));
  await sharp({ create: { width: 64, height: 48, channels: 3, background: '#3b6fd8' } })
    .png()
    .toFile(join(dir, 'photo.png'));
  [stack, browser] = await Promise.all([startTestStack({ PROVIDER_LATENCY_MS: '100' }), launchBrowser()]);
  headers = edgeHeaders(new URL(stack.url).origin);
  csp = headers['content-security-policy'] as string;
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/**
 * A phone whose documents arrive with the edge headers (as from CloudFront) and whose page records
 * every CSP violation in `window.__violations`.
 */
async function watchedPage(): Promise<Page> {
  const context = await phoneContext(browser, stack.url);
  await context.route('**/*', async (route) => {
    if (!route.request().isNavigationRequest()) return route.continue();
    const response = await route.fetch();
    await route.fulfill({ response, headers: { ...response.headers(), ...headers } });
  });
  await context.addInitScript(() => {
    const w = window as unknown as { __violations: string[] };
    w.__violations = [];
    document.addEventListener('securitypolicyviolation', (e) => w.__violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  const page = await context.newPage();
  return page;
}

const violations = (page: Page) => page.evaluate(() => (window as unknown as { __violations: string[] }).__violations);

describe.skipIf(!hasChromium)('the SPA under the CloudFront CSP', () => {
  it('serves the policy it was given', async () => {
    const page = await watchedPage();
    const answer = await page.goto('/');
    expect(await answer?.headerValue('content-security-policy')).toBe(csp);
    expect(csp).toContain("script-src 'self'");
    await page.context().close();
  });

  it('notices a violation (the check can fail)', async () => {
    const page = await watchedPage();
    await page.goto('/');
    await page.evaluate(() => {
      const img = document.createElement('img');
      img.src = 'https://example.invalid/pixel.png';
      document.body.append(img);
      const style = document.createElement('div');
      style.setAttribute('style', 'color: red');
      document.body.append(style);
    });
    await expect
      .poll(() => violations(page))
      .toEqual(expect.arrayContaining([expect.stringMatching(/^img-src/), expect.stringMatching(/^style-src/)]));
    await page.context().close();
  });

  it('signs in, uploads, runs a job and shows its before/after result with no violation', async () => {
    await stack.api.call('POST', '/api/local/credits', { body: { userId: 'csp-user', balance: 5 } });
    const page = await watchedPage();
    const errors: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) errors.push(message.text());
    });
    await page.goto('/');
    await page.getByLabel('Seu nome').fill('csp-user');
    await page.getByRole('button', { name: 'Entrar', exact: true }).click();
    await page.getByTestId('balance').waitFor({ state: 'visible', timeout: 15_000 });
    await page.setInputFiles('#file-upscale-image-image', join(dir, 'photo.png'));
    await page.locator('form.tool-form button[type="submit"]').click();
    await page.locator('.compare img.compare-after').waitFor({ state: 'visible', timeout: 30_000 });
    await page.waitForFunction(() => (document.querySelector<HTMLImageElement>('.compare img.compare-after')?.naturalWidth ?? 0) > 0);
    // The slider's position is a CSS variable set through the CSSOM: allowed, and it moves.
    expect(await page.locator('.compare').evaluate((el: HTMLElement) => el.style.getPropertyValue('--pos'))).toBe('50%');
    await page.locator('.history-item').first().waitFor({ state: 'visible' });
    expect(await violations(page)).toEqual([]);
    expect(errors).toEqual([]);
    await page.context().close();
  }, 60_000);
});
