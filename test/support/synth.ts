import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll } from 'vitest';
import { REPO_ROOT } from '../../infra/constructs/ghostless-function';
import { GhostlessStack, type GhostlessStackProps } from '../../infra/ghostless-stack';
import { enforceAwsSolutions } from '../../infra/nag';
import { BUNDLED_ACCOUNT } from '../../local/provider/server';

export const ACCOUNT = '123456789012';
export const REGION = 'eu-west-1';
const cdkContext = JSON.parse(readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')).context;
/** A stand-in for the built SPA, so infra tests do not depend on `npm run build:web`. */
const WEB_DIST = mkdtempSync(path.join(tmpdir(), 'ghostless-web-'));
writeFileSync(path.join(WEB_DIST, 'index.html'), '<!doctype html><title>Ghostless</title>');
/** One output directory per test process (an App without one takes a new temp dir per synth and leaves it). */
const OUTDIR = mkdtempSync(path.join(tmpdir(), 'ghostless-cdk-out-'));
afterAll(() => {
  for (const dir of [WEB_DIST, OUTDIR]) rmSync(dir, { recursive: true, force: true });
});

/** A fresh app the way `npm run synth` builds it: cdk.json's context, cdk-nag enforced; no bundling, no slow validation. */
export function newApp() {
  const app = new App({
    outdir: OUTDIR,
    context: { ...cdkContext, 'aws:cdk:bundling-stacks': [] },
    builtinCloudFormationValidation: false,
  });
  enforceAwsSolutions(app);
  return app;
}

/** Builds stack `Test` without synthesizing it; without another account, the bundled provider's. */
export function buildStack(props: Partial<GhostlessStackProps> = {}, app = newApp()) {
  return new GhostlessStack(app, 'Test', {
    env: { account: ACCOUNT, region: REGION },
    webDist: WEB_DIST,
    runningHub: { workflows: BUNDLED_ACCOUNT.workflows },
    ...props,
  });
}

/** Synthesizes stack `Test` (cdk-nag runs: a finding without a reason throws here). */
export function synth(props: Partial<GhostlessStackProps> = {}) {
  const stack = buildStack(props);
  return { stack, template: Template.fromStack(stack) };
}
