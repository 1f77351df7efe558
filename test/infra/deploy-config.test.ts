import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../infra/constructs/ghostless-function';
import { BUNDLED_WORKFLOW_MAP } from '../../local/provider/workflows';

/** `cdk synth` runs infra/app.ts with CDK_OUTDIR and CDK_CONTEXT_JSON; so does this, without the CLI. */
const outdir = mkdtempSync(join(tmpdir(), 'ghostless-deploy-config-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));
const cdkContext = JSON.parse(readFileSync(join(REPO_ROOT, 'cdk.json'), 'utf8')).context;

function synthesizeApp(context: Record<string, unknown>) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'infra/app.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, CDK_OUTDIR: outdir, CDK_CONTEXT_JSON: JSON.stringify({ ...cdkContext, ...context }) },
    encoding: 'utf8',
  });
  return { status: result.status, stderr: result.stderr };
}

describe('synthesizing the app for a deployment', () => {
  it('refuses to synthesize without the workflow map, with a sentence naming the missing context', () => {
    const result = synthesizeApp({});
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('Missing deploy configuration: pass -c runningHubWorkflows=…');
  });

  it('refuses the API key as context: it is a secret, stored in Secrets Manager after deploy', () => {
    const result = synthesizeApp({ runningHubApiKey: 'k', runningHubWorkflows: JSON.stringify(BUNDLED_WORKFLOW_MAP) });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('The RunningHub API key is a secret and never passes through CDK');
  });

  it('refuses a workflow map that leaves a tool out or is not JSON, naming the tool', () => {
    const partial = synthesizeApp({
      runningHubWorkflows: JSON.stringify({ 'upscale-image': BUNDLED_WORKFLOW_MAP['upscale-image'] }),
    });
    expect(partial.status).not.toBe(0);
    expect(partial.stderr).toContain('Context runningHubWorkflows: "upscale-video" is missing');
    expect(partial.stderr).toContain('"try-on" is missing');
    const broken = synthesizeApp({ runningHubWorkflows: '{"upscale-image":' });
    expect(broken.stderr).toContain('Context runningHubWorkflows is not valid JSON');
  }, 60_000);
});
