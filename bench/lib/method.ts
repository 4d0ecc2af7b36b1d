// How figures are taken: a warm-up, repeated runs, median and p95; for side-by-side
// figures the two systems interleaved (A B A B …) so drift on a shared machine hits
// both, and the ratio taken pair by pair, then its median.
import type { Figure } from './record.js';
import { median, pairedRatio, percentile, round } from './stats.js';

export interface RepeatOptions {
  /** Untimed runs first (page cache, JIT, lazily started daemons). */
  warmup: number;
  runs: number;
}

export interface Samples {
  /** Milliseconds per run, in run order. */
  ms: number[];
  median: number;
  p95: number;
}

function summarize(ms: number[]): Samples {
  return { ms, median: median(ms), p95: percentile(ms, 95) };
}

/**
 * One timed run: the op's wall time, or the number it resolves to when it measures
 * itself (e.g. spawn-to-ready, leaving out its own setup and teardown).
 */
async function timeOne(op: (run: number) => Promise<unknown>, run: number): Promise<number> {
  const t0 = performance.now();
  const result = await op(run);
  const wall = performance.now() - t0;
  return typeof result === 'number' && Number.isFinite(result) ? result : wall;
}

/** Runs `op` warmup + runs times and times the last `runs` (see timeOne). */
export async function repeat(op: (run: number) => Promise<unknown>, opts: RepeatOptions): Promise<Samples> {
  for (let i = 0; i < opts.warmup; i++) await op(-1 - i);
  const ms: number[] = [];
  for (let i = 0; i < opts.runs; i++) ms.push(await timeOne(op, i));
  return summarize(ms);
}

export interface Interleaved {
  a: Samples;
  b: Samples;
  /** Median of a[i]/b[i]. */
  ratio: number;
}

/**
 * Times `a` and `b` alternately (see timeOne): warm-ups of both, then a b a b …; every
 * pair is one ratio. Odd pairs start with b, so neither always runs on a cache the other warmed.
 */
export async function interleave(
  a: (run: number) => Promise<unknown>,
  b: (run: number) => Promise<unknown>,
  opts: RepeatOptions,
): Promise<Interleaved> {
  for (let i = 0; i < opts.warmup; i++) {
    await a(-1 - i);
    await b(-1 - i);
  }
  const am: number[] = [];
  const bm: number[] = [];
  for (let i = 0; i < opts.runs; i++) {
    if (i % 2 === 0) {
      am.push(await timeOne(a, i));
      bm.push(await timeOne(b, i));
    } else {
      bm.push(await timeOne(b, i));
      am.push(await timeOne(a, i));
    }
  }
  return { a: summarize(am), b: summarize(bm), ratio: pairedRatio(am, bm) };
}

/**
 * Times several systems in rounds (see timeOne): warm-ups of each, then one run of each
 * per round, the round's first system rotating (A B C, B C A, C A B, …) so that none always
 * runs first or on a cache another warmed. Samples per system, in the order given; pair
 * any two with pairedRatio (their i-th runs share a round).
 */
export async function interleaveAll(
  ops: ReadonlyArray<(run: number) => Promise<unknown>>,
  opts: RepeatOptions,
): Promise<Samples[]> {
  for (let i = 0; i < opts.warmup; i++) for (const op of ops) await op(-1 - i);
  const ms: number[][] = ops.map(() => []);
  for (let i = 0; i < opts.runs; i++) {
    for (let k = 0; k < ops.length; k++) {
      const j = (i + k) % ops.length;
      ms[j]!.push(await timeOne(ops[j]!, i));
    }
  }
  return ms.map(summarize);
}

/** The median and p95 figures of one timed series (ms). */
export function latencyFigures(name: string, s: Samples, what = ''): Figure[] {
  const prefix = what ? `${what} ` : '';
  return [
    { name, metric: `${prefix}median`, unit: 'ms', value: round(s.median) },
    { name, metric: `${prefix}p95`, unit: 'ms', value: round(s.p95) },
  ];
}

/**
 * Side-by-side figures of an interleaved run: median (ratio = median of pair ratios)
 * and p95 (ratio = p95 over p95: tails do not pair up).
 */
export function sideBySideFigures(name: string, peer: string, r: Interleaved, what = ''): Figure[] {
  const prefix = what ? `${what} ` : '';
  return [
    {
      name,
      metric: `${prefix}median`,
      unit: 'ms',
      value: round(r.a.median),
      peer,
      peerValue: round(r.b.median),
      ratio: round(r.ratio),
    },
    {
      name,
      metric: `${prefix}p95`,
      unit: 'ms',
      value: round(r.a.p95),
      peer,
      peerValue: round(r.b.p95),
      ratio: round(r.a.p95 / r.b.p95),
    },
  ];
}
