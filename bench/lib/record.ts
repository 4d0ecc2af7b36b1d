// The one record shape every benchmark figure is printed and stored as.
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';

export interface Machine {
  cores: number;
  memoryGiB: number;
  kernel: string;
}

export interface BenchRecord {
  /** The benchmark, e.g. `container-start`. */
  name: string;
  /** What was measured, e.g. `p50` or `commits/s (100 clients)`. */
  metric: string;
  unit: string;
  /** skiff's figure (or the only figure when no peer ran). */
  value: number;
  /** The peer measured side by side, e.g. `dockerd 20.10 + crun`. */
  peer?: string;
  peerValue?: number;
  /** value / peerValue; for interleaved runs, the median of the pair-by-pair ratios. */
  ratio?: number;
  machine: Machine;
}

/** A figure before the harness stamps the machine on it. */
export type Figure = Omit<BenchRecord, 'machine'>;

let cached: Machine | undefined;

export function machine(): Machine {
  if (cached) return cached;
  let kernel = release();
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {
    // os.release() is the same value; /proc is only preferred for containers' sake.
  }
  cached = { cores: cpus().length, memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10, kernel };
  return cached;
}

/**
 * Turns what a standalone script printed into a Figure: it must have name, metric, unit
 * and a finite numeric value; peer fields are kept when well-formed. Anything else is
 * not a figure (undefined).
 */
export function toFigure(raw: unknown): Figure | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as Record<string, unknown>;
  if (typeof r.name !== 'string' || typeof r.metric !== 'string' || typeof r.unit !== 'string')
    return undefined;
  if (typeof r.value !== 'number' || !Number.isFinite(r.value)) return undefined;
  const figure: Figure = { name: r.name, metric: r.metric, unit: r.unit, value: r.value };
  if (typeof r.peer === 'string') figure.peer = r.peer;
  if (typeof r.peerValue === 'number' && Number.isFinite(r.peerValue)) figure.peerValue = r.peerValue;
  if (typeof r.ratio === 'number' && Number.isFinite(r.ratio)) figure.ratio = r.ratio;
  else if (figure.peerValue !== undefined && figure.peerValue !== 0)
    figure.ratio = Math.round((figure.value / figure.peerValue) * 100) / 100;
  return figure;
}

/** Parses every JSON line of a script's stdout that is a figure; other lines are ignored. */
export function figuresFromOutput(stdout: string): Figure[] {
  const out: Figure[] = [];
  for (const line of stdout.split('\n')) {
    const text = line.trim();
    if (!text.startsWith('{')) continue;
    try {
      const figure = toFigure(JSON.parse(text));
      if (figure) out.push(figure);
    } catch {
      // Not JSON: a table row or a log line.
    }
  }
  return out;
}
