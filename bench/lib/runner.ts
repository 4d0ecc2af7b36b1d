// Runs benchmarks one after another: every figure printed as a JSON line (and appended
// to a .jsonl file), a failing benchmark reported and skipped, a table at the end.
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Benchmark, BenchSize } from './benchmark.js';
import { type BenchRecord, machine } from './record.js';
import { type Outcome, renderTable } from './table.js';

export interface RunOptions {
  size: BenchSize;
  /** Where records are appended as JSON lines (created with its directory); none when undefined. */
  resultsFile?: string;
  /** Record lines and the table (default: process.stdout). */
  write?: (text: string) => void;
  /** Progress and errors (default: process.stderr). */
  log?: (text: string) => void;
}

export interface RunReport {
  records: BenchRecord[];
  outcomes: Outcome[];
  table: string;
  /** 0 when every benchmark succeeded, 1 otherwise. */
  exitCode: number;
}

function firstLine(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split('\n')[0]!.slice(0, 300);
}

export async function runBenchmarks(benchmarks: readonly Benchmark[], opts: RunOptions): Promise<RunReport> {
  const write = opts.write ?? ((t: string) => process.stdout.write(t));
  const log = opts.log ?? ((t: string) => process.stderr.write(t));
  if (opts.resultsFile) mkdirSync(dirname(opts.resultsFile), { recursive: true });
  const records: BenchRecord[] = [];
  const outcomes: Outcome[] = [];
  for (const bench of benchmarks) {
    log(`== ${bench.name} (${opts.size})\n`);
    const t0 = performance.now();
    try {
      await bench.run({
        size: opts.size,
        emit: (figure) => {
          const record: BenchRecord = { ...figure, machine: machine() };
          records.push(record);
          const line = `${JSON.stringify(record)}\n`;
          write(line);
          if (opts.resultsFile) appendFileSync(opts.resultsFile, line);
        },
        log: (message) => log(`[${bench.name}] ${message}\n`),
      });
      outcomes.push({ benchmark: bench.name, ok: true, seconds: (performance.now() - t0) / 1000 });
    } catch (e) {
      const error = firstLine(e);
      log(`[${bench.name}] FAILED: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      outcomes.push({ benchmark: bench.name, ok: false, error, seconds: (performance.now() - t0) / 1000 });
    }
  }
  const table = renderTable(records, outcomes);
  write(`\n${table}\n`);
  return { records, outcomes, table, exitCode: outcomes.every((o) => o.ok) ? 0 : 1 };
}
