// Durations as Docker and Compose write them ("1m30s", "500ms", "2h"), converted to
// the nanoseconds the API uses.

const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
  d: 86400e9,
};

/** Parses a Go-style duration; returns undefined when it is not one. */
export function parseDurationNs(text: string): number | undefined {
  const s = text.trim();
  if (s === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d)/y;
  let total = 0;
  let pos = 0;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) return undefined;
    total += Number(m[1]) * (UNIT_NS[m[2]!] ?? 0);
    pos = re.lastIndex;
  }
  return pos === 0 ? undefined : Math.round(total);
}

/** Formats nanoseconds the way Go prints a time.Duration ("1m30s", "500ms"). */
export function formatDurationNs(ns: number): string {
  if (ns === 0) return '0s';
  if (ns < 1e3) return `${ns}ns`;
  if (ns < 1e6) return `${trim(ns / 1e3)}µs`;
  if (ns < 1e9) return `${trim(ns / 1e6)}ms`;
  let rest = ns;
  let out = '';
  const h = Math.floor(rest / 3600e9);
  if (h > 0) {
    out += `${h}h`;
    rest -= h * 3600e9;
  }
  const m = Math.floor(rest / 60e9);
  if (h > 0 || m > 0) {
    out += `${m}m`;
    rest -= m * 60e9;
  }
  out += `${trim(rest / 1e9)}s`;
  return out;
}

function trim(n: number): string {
  return String(Number(n.toFixed(9)));
}
