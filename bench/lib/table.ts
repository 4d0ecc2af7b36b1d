// The readable table that ends a run. Pure: records in, text out.
import type { BenchRecord } from './record.js';

export interface Outcome {
  benchmark: string;
  ok: boolean;
  /** Why it failed (first line of the error). */
  error?: string;
  seconds: number;
}

function fmt(n: number | undefined): string {
  if (n === undefined) return '';
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  if (abs >= 1000) return Math.round(n).toLocaleString('en-US');
  if (abs >= 100) return n.toFixed(0);
  if (abs >= 1) return String(Math.round(n * 100) / 100);
  return String(Math.round(n * 10000) / 10000);
}

/** Columns: name, metric, value+unit, peer, peer value, ratio; then one line per benchmark run. */
export function renderTable(records: readonly BenchRecord[], outcomes: readonly Outcome[]): string {
  const header = ['benchmark', 'metric', 'value', 'peer', 'peer value', 'ratio'];
  const rows = records.map((r) => [
    r.name,
    r.metric,
    `${fmt(r.value)} ${r.unit}`,
    r.peer ?? '',
    r.peerValue === undefined ? '' : `${fmt(r.peerValue)} ${r.unit}`,
    r.ratio === undefined ? '' : `${fmt(r.ratio)}x`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 2 || i === 4 || i === 5 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
  if (records.length === 0) out.push('(no figures)');
  out.push('');
  for (const o of outcomes) {
    out.push(
      `${o.ok ? 'ok    ' : 'FAILED'} ${o.benchmark} (${o.seconds.toFixed(1)} s)${o.error ? `: ${o.error}` : ''}`,
    );
  }
  return out.join('\n');
}
