// The agent's own hard resource limits and capability bounding set (containers cannot
// get more than these), read from /proc/self/limits and /proc/self/status.
import { readFileSync } from 'node:fs';
import { ALL_CAPABILITIES } from '../../lib/index.js';

const NAMES: Record<string, string> = {
  'Max cpu time': 'RLIMIT_CPU',
  'Max file size': 'RLIMIT_FSIZE',
  'Max data size': 'RLIMIT_DATA',
  'Max stack size': 'RLIMIT_STACK',
  'Max core file size': 'RLIMIT_CORE',
  'Max resident set': 'RLIMIT_RSS',
  'Max processes': 'RLIMIT_NPROC',
  'Max open files': 'RLIMIT_NOFILE',
  'Max locked memory': 'RLIMIT_MEMLOCK',
  'Max address space': 'RLIMIT_AS',
  'Max file locks': 'RLIMIT_LOCKS',
  'Max pending signals': 'RLIMIT_SIGPENDING',
  'Max msgqueue size': 'RLIMIT_MSGQUEUE',
  'Max nice priority': 'RLIMIT_NICE',
  'Max realtime priority': 'RLIMIT_RTPRIO',
  'Max realtime timeout': 'RLIMIT_RTTIME',
};

/** Parses /proc/<pid>/limits text; "unlimited" limits are left out. Pure. */
export function parseHardLimits(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(Max [a-z ]+?)\s{2,}(\S+)\s+(\S+)/.exec(line);
    if (!m) continue;
    const type = NAMES[m[1]!];
    if (type && /^\d+$/.test(m[3]!)) out[type] = Number(m[3]);
  }
  return out;
}

let cached: Record<string, number> | undefined;

export function hostHardLimits(): Record<string, number> {
  cached ??= parseHardLimits(readFileSync('/proc/self/limits', 'utf8'));
  return cached;
}

/** The capabilities of a CapBnd line's hex mask (`/proc/<pid>/status`), by name. Pure. */
export function parseBoundingSet(status: string): string[] {
  const m = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status);
  if (!m) return [...ALL_CAPABILITIES];
  const mask = BigInt(`0x${m[1]}`);
  return ALL_CAPABILITIES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

let bounding: string[] | undefined;

/** What `ALL` means on this node: a capability the agent lacks cannot be given to a container. */
export function hostCapabilities(): string[] {
  bounding ??= parseBoundingSet(readFileSync('/proc/self/status', 'utf8'));
  return bounding;
}
