import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DecisionRecord } from '../../local/iam';

/**
 * Every AWS call the functions make in the tests goes through the local IAM gateway. Each test stack writes what
 * it saw when it stops; the run's teardown prints one table per function: actions, resources, allowed and denied.
 */
const DIR = join(import.meta.dirname, '..', '..', 'test-output', 'iam-usage');

export interface UsageRow {
  /** The function's logical id without the stack prefix and CDK's hash. */
  fn: string;
  action: string;
  /** The resource with per-run names (tables, job ids) replaced by placeholders. */
  resource: string;
  decision: string;
  count: number;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const functionLabel = (name: string) => name.replace(/^Ghostless-/, '').replace(/[0-9A-F]{8}$/, '');

export function summarize(records: DecisionRecord[], tableName: string): UsageRow[] {
  const rows = new Map<string, UsageRow>();
  for (const record of records) {
    const resource = record.resource.replaceAll(tableName, '{table}').replace(UUID, '{jobId}');
    const row = { fn: functionLabel(record.functionName), action: record.action, resource, decision: record.decision, count: 0 };
    const key = `${row.fn}\n${row.action}\n${row.resource}\n${row.decision}`;
    (rows.get(key) ?? (rows.set(key, row).get(key) as UsageRow)).count++;
  }
  return [...rows.values()];
}

/** Records one stack's usage; `expectDenials` marks stacks whose tests deny on purpose (a removed statement). */
export function recordUsage(file: string, rows: UsageRow[], expectDenials = false) {
  mkdirSync(DIR, { recursive: true });
  writeFileSync(join(DIR, `${randomUUID()}.json`), JSON.stringify({ file, expectDenials, rows }));
}

export function clearUsage() {
  rmSync(DIR, { recursive: true, force: true });
}

/** The per-function table, and the denials that happened where none was expected. */
export function usageReport(): { table: string; unexpectedDenials: string[] } | undefined {
  let files: string[];
  try {
    files = readdirSync(DIR).filter((name) => name.endsWith('.json'));
  } catch {
    return undefined;
  }
  if (files.length === 0) return undefined;
  const merged = new Map<string, UsageRow & { denied: number; allowed: number }>();
  const unexpectedDenials: string[] = [];
  for (const name of files) {
    const { file, expectDenials, rows } = JSON.parse(readFileSync(join(DIR, name), 'utf8')) as {
      file: string;
      expectDenials: boolean;
      rows: UsageRow[];
    };
    for (const row of rows) {
      const key = `${row.fn}\n${row.action}\n${row.resource}`;
      const entry = merged.get(key) ?? { ...row, denied: 0, allowed: 0 };
      if (row.decision === 'Allowed') entry.allowed += row.count;
      else {
        entry.denied += row.count;
        if (!expectDenials) unexpectedDenials.push(`${file}: ${row.fn} ${row.action} ${row.resource} (${row.decision})`);
      }
      merged.set(key, entry);
    }
  }
  const lines = ['| function | action | resource | allowed | denied |', '|---|---|---|---|---|'];
  for (const row of [...merged.values()].sort((a, b) =>
    `${a.fn}${a.action}${a.resource}`.localeCompare(`${b.fn}${b.action}${b.resource}`),
  )) {
    lines.push(`| ${row.fn} | ${row.action} | ${row.resource} | ${row.allowed} | ${row.denied} |`);
  }
  return { table: lines.join('\n'), unexpectedDenials };
}
