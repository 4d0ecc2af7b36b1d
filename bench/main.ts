// `npm run bench [-- NAME…]`: runs the named benchmarks (all when none is named).
//   --list          names and descriptions
//   --size tiny     the smoke-test size (default: full, or BENCH_SIZE)
// Figures print as JSON lines, a table ends the run, and records are appended to
// bench/results/<timestamp>.jsonl. Exit status 1 when any benchmark failed, 2 on bad usage.
import { join } from 'node:path';
import { allBenchmarks } from './benchmarks/index.js';
import { type BenchSize, REPO_ROOT, runBenchmarks } from './lib/index.js';

function usage(): string {
  return 'usage: npm run bench -- [--list] [--size tiny|full] [NAME…]';
}

async function main(argv: string[]): Promise<number> {
  const names: string[] = [];
  let size: BenchSize = process.env.BENCH_SIZE === 'tiny' ? 'tiny' : 'full';
  let list = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--list') list = true;
    else if (a === '--size') {
      const v = argv[++i];
      if (v !== 'tiny' && v !== 'full') {
        process.stderr.write(`--size takes tiny or full, not ${v ?? '(nothing)'}\n${usage()}\n`);
        return 2;
      }
      size = v;
    } else if (a === '--help' || a === '-h') {
      process.stdout.write(`${usage()}\n`);
      return 0;
    } else if (a.startsWith('-')) {
      process.stderr.write(`unknown option ${a}\n${usage()}\n`);
      return 2;
    } else names.push(a);
  }
  const all = allBenchmarks();
  if (list) {
    const w = Math.max(...all.map((b) => b.name.length));
    for (const b of all) process.stdout.write(`${b.name.padEnd(w)}  ${b.description}\n`);
    return 0;
  }
  const unknown = names.filter((n) => !all.some((b) => b.name === n));
  if (unknown.length > 0) {
    process.stderr.write(
      `no benchmark named ${unknown.join(', ')}; known: ${all.map((b) => b.name).join(', ')}\n`,
    );
    return 2;
  }
  const chosen = names.length === 0 ? all : names.map((n) => all.find((b) => b.name === n)!);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  // BENCH_RESULTS_DIR moves them (the smoke test writes into a temp dir).
  const resultsFile = join(
    process.env.BENCH_RESULTS_DIR || join(REPO_ROOT, 'bench', 'results'),
    `${stamp}.jsonl`,
  );
  const report = await runBenchmarks(chosen, { size, resultsFile });
  process.stderr.write(`records appended to ${resultsFile}\n`);
  return report.exitCode;
}

process.exitCode = await main(process.argv.slice(2));
