// The agent's own hard resource limits (containers cannot get more than these),
// read from /proc/self/limits and keyed by OCI rlimit type.
import { readFileSync } from 'node:fs';

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
