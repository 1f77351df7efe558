#!/usr/bin/env node
// Makes sure the local stack's non-npm dependencies are present: a Java runtime and DynamoDB Local.
// Runs before `npm start` / `npm test`; idempotent and instant when everything is already there.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const DYNAMODB_LOCAL_DIR = join(ROOT, '.cache', 'dynamodb-local');
export const DYNAMODB_LOCAL_JAR = join(DYNAMODB_LOCAL_DIR, 'DynamoDBLocal.jar');
const SIMULATOR_PACKAGE = 'amplify-dynamodb-simulator@2.9.30';
export const JAVA_MISSING_MESSAGE = 'Java 17+ is required for DynamoDB Local: run "apt-get install -y openjdk-17-jre-headless"';

/** Returns the Java major version, or undefined when no usable `java` is on the PATH. */
export function javaMajorVersion() {
  const result = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) return undefined;
  const match = /version "(\d+)(?:\.(\d+))?/.exec(`${result.stderr}${result.stdout}`);
  if (!match) return undefined;
  const major = Number(match[1]);
  // Java 8 and older report "1.8.0_…".
  return major === 1 ? Number(match[2]) : major;
}

function run(command, args, cwd) {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    const detail = result.error ? result.error.message : `${result.stderr}`.trim();
    throw new Error(`${command} ${args.join(' ')} failed: ${detail}`);
  }
  return result.stdout;
}

/** Fetches DynamoDB Local (AWS's emulator, as packaged by amplify-dynamodb-simulator) into .cache/. */
export function ensureDynamoDbLocal() {
  if (existsSync(DYNAMODB_LOCAL_JAR)) return false;
  const work = mkdtempSync(join(tmpdir(), 'ghostless-ddb-'));
  try {
    run('npm', ['pack', SIMULATOR_PACKAGE, '--pack-destination', work, '--silent'], work);
    const tarball = readdirSync(work).find((name) => name.endsWith('.tgz'));
    if (!tarball) throw new Error(`npm pack ${SIMULATOR_PACKAGE} produced no tarball`);
    run('tar', ['-xzf', join(work, tarball), '-C', work, 'package/emulator'], work);
    const extracted = join(work, 'package', 'emulator');
    if (!existsSync(join(extracted, 'DynamoDBLocal.jar'))) throw new Error('DynamoDBLocal.jar is missing from the package');
    mkdirSync(dirname(DYNAMODB_LOCAL_DIR), { recursive: true });
    if (existsSync(DYNAMODB_LOCAL_JAR)) return false; // another process finished first
    rmSync(DYNAMODB_LOCAL_DIR, { recursive: true, force: true }); // a partial leftover
    try {
      renameSync(extracted, DYNAMODB_LOCAL_DIR);
    } catch (error) {
      if (!existsSync(DYNAMODB_LOCAL_JAR)) throw error;
    }
    return true;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Checks Java and fetches DynamoDB Local if needed. Throws an Error whose message is the one line to show.
 * @returns {{ fetched: boolean }}
 */
export function ensureDeps() {
  const java = javaMajorVersion();
  if (java === undefined || java < 17) throw new Error(JAVA_MISSING_MESSAGE);
  return { fetched: ensureDynamoDbLocal() };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const { fetched } = ensureDeps();
    if (fetched) console.log(`Fetched DynamoDB Local into ${DYNAMODB_LOCAL_DIR}`);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
}
