import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import type { CfnTemplate } from './resolver';

const ROOT = resolve(import.meta.dirname, '../..');
/** What a synthesized assembly depends on: a change to any of these means a new synth. */
const SOURCES = ['infra', 'lambdas', 'cdk.json', 'package-lock.json', 'tsconfig.json', 'web/dist'];
const KEEP_CACHED = 3;

export interface CloudAssembly {
  /** The assembly directory (`cdk.out` layout: manifest.json, <stack>.template.json, asset.<hash>/). */
  dir: string;
  stackName: string;
  template: CfnTemplate;
  /** S3 object key a template's `Code.S3Key` names → the asset directory `cdk deploy` would zip and upload. */
  assets: Map<string, string>;
}

/** Reads the one CloudFormation stack of an assembly directory, as `cdk deploy` would. */
export function loadCloudAssembly(dir: string): CloudAssembly {
  const manifestFile = join(dir, 'manifest.json');
  if (!existsSync(manifestFile)) throw new Error(`${dir} is not a cloud assembly: manifest.json is missing`);
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as {
    artifacts?: Record<string, { type: string; properties?: { templateFile?: string; file?: string }; displayName?: string }>;
  };
  const stacks = Object.entries(manifest.artifacts ?? {}).filter(([, a]) => a.type === 'aws:cloudformation:stack');
  if (stacks.length !== 1) throw new Error(`${dir} must hold exactly one stack, found ${stacks.length}`);
  const [stackName, artifact] = stacks[0] as [string, { properties?: { templateFile?: string } }];
  const templateFile = artifact.properties?.templateFile;
  if (!templateFile) throw new Error(`${dir}: stack ${stackName} has no template file`);
  return {
    dir: resolve(dir),
    stackName,
    template: JSON.parse(readFileSync(join(dir, templateFile), 'utf8')) as CfnTemplate,
    assets: fileAssets(dir, manifest.artifacts ?? {}),
  };
}

/** Reads the asset manifests: each file asset's source directory and the object keys it is published under. */
function fileAssets(dir: string, artifacts: Record<string, { type: string; properties?: { file?: string } }>): Map<string, string> {
  const assets = new Map<string, string>();
  for (const artifact of Object.values(artifacts)) {
    if (artifact.type !== 'cdk:asset-manifest' || !artifact.properties?.file) continue;
    const manifest = JSON.parse(readFileSync(join(dir, artifact.properties.file), 'utf8')) as {
      files?: Record<string, { source: { path: string }; destinations: Record<string, { objectKey: string }> }>;
    };
    for (const file of Object.values(manifest.files ?? {})) {
      for (const destination of Object.values(file.destinations)) assets.set(destination.objectKey, resolve(dir, file.source.path));
    }
  }
  return assets;
}

/**
 * Synthesizes the CDK app exactly as `cdk synth` runs it (the app command from cdk.json with CDK_OUTDIR and
 * CDK_CONTEXT_JSON: cdk.json's context plus `context`), bundling every function. The result is cached under
 * `.cache/cloud-assembly/<hash of the sources and context>`, so an unchanged tree starts without a synth.
 */
export async function synthesizeCloudAssembly(context: Record<string, unknown> = {}): Promise<CloudAssembly> {
  const cdkJson = JSON.parse(readFileSync(join(ROOT, 'cdk.json'), 'utf8')) as { context?: Record<string, unknown> };
  const fullContext = { ...cdkJson.context, ...context };
  const cacheRoot = join(ROOT, '.cache', 'cloud-assembly');
  const dir = join(cacheRoot, sourceHash(fullContext));
  if (existsSync(join(dir, 'manifest.json'))) return loadCloudAssembly(dir);

  mkdirSync(cacheRoot, { recursive: true });
  const building = `${dir}.${process.pid}.building`;
  rmSync(building, { recursive: true, force: true });
  await run(process.execPath, ['--import', 'tsx', 'infra/app.ts'], {
    ...process.env,
    CDK_OUTDIR: building,
    // As the CDK CLI runs an app: asset metadata on, context from cdk.json.
    CDK_CONTEXT_JSON: JSON.stringify({ 'aws:cdk:enable-asset-metadata': true, ...fullContext }),
    CDK_DISABLE_VERSION_CHECK: '1',
  });
  try {
    renameSync(building, dir);
  } catch (error) {
    // Another process (a parallel test run) finished the same synth first: use theirs.
    rmSync(building, { recursive: true, force: true });
    if (!existsSync(join(dir, 'manifest.json'))) throw error;
  }
  pruneCache(cacheRoot, dir);
  return loadCloudAssembly(dir);
}

function sourceHash(context: unknown): string {
  const hash = createHash('sha256').update(JSON.stringify(context));
  const visit = (path: string) => {
    if (!existsSync(path)) return;
    if (statSync(path).isDirectory()) {
      for (const name of readdirSync(path).sort()) if (name !== 'node_modules') visit(join(path, name));
      return;
    }
    hash.update(relative(ROOT, path)).update('\0').update(readFileSync(path)).update('\0');
  };
  for (const source of SOURCES) visit(join(ROOT, source));
  return hash.digest('hex').slice(0, 24);
}

function pruneCache(cacheRoot: string, keep: string) {
  const entries = readdirSync(cacheRoot)
    .map((name) => join(cacheRoot, name))
    .filter((path) => path !== keep && !path.endsWith('.building'))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  for (const old of entries.slice(KEEP_CACHED - 1)) rmSync(old, { recursive: true, force: true });
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', fail);
    child.on('close', (code) => {
      if (code === 0) done();
      else {
        // The app's own sentence (a missing or malformed setting) is its error line; else its last lines.
        const lines = stderr.trim().split('\n').filter(Boolean);
        const sentence = lines.find((line) => /^\w*Error: /.test(line)) ?? lines.slice(-3).join('\n');
        fail(new Error(`Synthesis failed: ${sentence || `exit ${code}`}`));
      }
    });
  });
}
