// `against-baseline`: this tree next to another build of skiff (BENCH_BASELINE, e.g. a
// git worktree of the commit before a refactor, built with `npm run build`),
// interleaved run by run: a single-node daemon from nothing to answering /_ping, then
// `skiff service ls` against it (the time a user waits for the simplest command).
// Both trees run what their `bin/skiff.js` runs (their own dist/).
//
//   BENCH_BASELINE=/work/old npx tsx bench/against-baseline.ts
//
// Without BENCH_BASELINE (the smoke test) it measures this tree alone, once.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { benchDaemon, interleave, median, REPO_ROOT, round, runChecked } from './lib/index.js';

const tiny = process.env.BENCH_SIZE === 'tiny';
const LS_RUNS = tiny ? 1 : 5;

interface Sample {
  startMs: number;
  /** Median wall time of `service ls` over LS_RUNS runs. */
  lsMs: number;
}

/** What `skiff` runs in that tree (bin/skiff.js picks its build: the bundle or the compiled tree). */
function mainOf(tree: string): string {
  if (!existsSync(join(tree, 'dist', 'cli', 'main.js')))
    throw new Error(`${tree} is not built: npm run build`);
  return join(tree, 'bin', 'skiff.js');
}

async function once(main: string): Promise<Sample> {
  const daemon = await benchDaemon([main]);
  try {
    const startMs = await daemon.start();
    const { SKIFF_HOST: _ignored, ...env } = process.env;
    const ls: number[] = [];
    for (let i = 0; i < LS_RUNS; i++) {
      const t = performance.now();
      await runChecked(process.execPath, [main, 'service', 'ls'], {
        env: { ...env, SKIFF_HOST: `unix://${daemon.socket}` },
      });
      ls.push(performance.now() - t);
    }
    return { startMs, lsMs: median(ls) };
  } finally {
    await daemon.remove();
  }
}

function emit(f: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ name: 'against-baseline', ...f })}\n`);
}

const current = mainOf(REPO_ROOT);
const baselineTree = process.env.BENCH_BASELINE;
if (!baselineTree) {
  const s = await once(current);
  emit({ metric: 'daemon start to /_ping', unit: 'ms', value: round(s.startMs) });
  emit({ metric: 'skiff service ls', unit: 'ms', value: round(s.lsMs) });
} else {
  const baseline = mainOf(resolve(baselineTree));
  const a: Sample[] = [];
  const b: Sample[] = [];
  const keep = (into: Sample[], run: number) => (s: Sample) => {
    if (run >= 0) into.push(s);
  };
  await interleave(
    (run) => once(current).then(keep(a, run)),
    (run) => once(baseline).then(keep(b, run)),
    { warmup: 1, runs: tiny ? 1 : 7 },
  );
  const peer = `baseline ${baselineTree}`;
  for (const [metric, pick] of [
    ['daemon start to /_ping median', (s: Sample) => s.startMs],
    ['skiff service ls median', (s: Sample) => s.lsMs],
  ] as const) {
    const value = median(a.map(pick));
    const peerValue = median(b.map(pick));
    emit({
      metric,
      unit: 'ms',
      value: round(value),
      peer,
      peerValue: round(peerValue),
      ratio: round(value / peerValue),
    });
  }
}
