// Order statistics for benchmark samples. Pure: no clocks, no I/O.

/** The p-th percentile (0..100) by the nearest-rank method; NaN for no samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** The median; the mean of the two middle samples for an even count. */
export function median(samples: readonly number[]): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function mean(samples: readonly number[]): number {
  return samples.length === 0 ? Number.NaN : samples.reduce((s, x) => s + x, 0) / samples.length;
}

/**
 * Ratios a[i]/b[i] of paired samples, then their median. Pairs taken close in time see
 * the same machine load, so their ratio cancels drift that the ratio of two medians keeps.
 */
export function pairedRatio(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new Error(`pairedRatio: ${a.length} samples against ${b.length}`);
  const ratios: number[] = [];
  for (let i = 0; i < a.length; i++) {
    const denominator = b[i]!;
    if (denominator !== 0) ratios.push(a[i]! / denominator);
  }
  return median(ratios);
}

/** Rounds to `digits` significant-looking decimals for records people read. */
export function round(x: number, digits = 2): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
