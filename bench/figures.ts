import { cpus, loadavg } from 'node:os';
import { dynamoDbLocalPids } from './support';

/** What every bench prints: percentiles, plain-text tables, the machine's load and the cleanup check. */

function percentile(values: number[], p: number) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] as number;
}

export function summary(values: number[]) {
  const finite = values.filter((v) => Number.isFinite(v));
  return {
    n: finite.length,
    mean: finite.length ? finite.reduce((a, b) => a + b, 0) / finite.length : Number.NaN,
    min: finite.length ? Math.min(...finite) : Number.NaN,
    p50: percentile(finite, 50),
    p95: percentile(finite, 95),
    p99: percentile(finite, 99),
    max: finite.length ? Math.max(...finite) : Number.NaN,
  };
}

export const fmt = (value: number, digits = 1) => (Number.isFinite(value) ? value.toFixed(digits) : '—');

/** p50, p95, p99 and max of a sample, formatted: the latency columns of the tables. */
export function percentileCells(values: number[]) {
  const s = summary(values);
  return [fmt(s.p50), fmt(s.p95), fmt(s.p99), fmt(s.max)];
}

/** A plain-text table; the first row is the header. */
export function table(rows: (string | number)[][]) {
  const text = rows.map((row) => row.map(String));
  const widths = text[0]?.map((_, i) => Math.max(...text.map((row) => (row[i] ?? '').length))) ?? [];
  const line = (row: string[]) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ');
  const [header, ...body] = text;
  return [line(header ?? []), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** The 1, 5 and 15 minute load averages: "3.06 3.63 3.53". */
export const loadAverage = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** The line a bench opens with: the figures mean little without how busy the machine was. */
export const machineAtStart = () => `machine: ${cpus().length} cores, load average ${loadAverage()} at start`;

/** Whether the DynamoDB Local this bench started (wrapper and JVM pids `ours`) is gone; others' are listed as not ours. */
export function dynamoDbLocalCleanup(ours: string[], stopped: string) {
  const left = dynamoDbLocalPids();
  const leftOurs = left.filter((pid) => ours.includes(pid));
  return leftOurs.length
    ? `WARNING: our DynamoDB Local is still running: ${leftOurs.join(' ')}`
    : `cleanup: ${stopped}, our DynamoDB Local (pids ${ours.join(', ')}) is gone; pgrep -f DynamoDBLocal: ${left.length ? `${left.join(' ')} (not ours)` : 'none'}.`;
}
