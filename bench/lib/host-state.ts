// Before/after pictures of the host (processes, mounts, links, iptables, sysctls,
// cgroups, chosen paths) to show that a peer left nothing behind. The machine is
// shared, so a difference only counts against a peer when it matches that peer's
// signature (its state directory, its binary, its bridge or chain names).
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { runCommand } from './command.js';

export type HostState = Record<string, string[]>;

export interface HostStateOptions {
  /** Paths whose existence is part of the picture (e.g. /etc/docker/key.json). */
  paths?: readonly string[];
  /** sysctl files under /proc/sys to record (e.g. net/ipv4/ip_forward). */
  sysctls?: readonly string[];
}

function processes(): string[] {
  const out: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ').trim();
      if (!cmd) continue; // kernel threads
      const cgroup = /:pids:(\S*)/.exec(readFileSync(`/proc/${entry}/cgroup`, 'utf8'))?.[1] ?? '';
      let exe = '';
      try {
        exe = readlinkSync(`/proc/${entry}/exe`);
      } catch {
        // zombie or gone
      }
      out.push(`${entry} ${exe} [${cgroup}] ${cmd.slice(0, 300)}`);
    } catch {
      // exited while we looked
    }
  }
  return out;
}

function mounts(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const f = line.split(' ');
      const sep = f.indexOf('-');
      return `${f[4]} ${f[sep + 1]} ${f[sep + 2]}`;
    });
}

async function links(): Promise<string[]> {
  const r = await runCommand('ip', ['-j', 'link', 'show']);
  const list = JSON.parse(r.stdout || '[]') as Array<{ ifname: string; master?: string; link_type?: string }>;
  return list.map((l) => `${l.ifname}${l.master ? ` master ${l.master}` : ''}`);
}

async function rules(cmd: string): Promise<string[]> {
  const r = await runCommand(cmd, []).catch(() => undefined);
  if (r?.code !== 0) return [];
  let table = '';
  const out: string[] = [];
  for (const line of r.stdout.split('\n')) {
    if (!line || line.startsWith('#') || line === 'COMMIT') continue;
    if (line.startsWith('*')) {
      table = line.slice(1);
      continue;
    }
    // Counters change with traffic; policies and rules are what matter.
    out.push(`${table} ${line.replace(/ \[\d+:\d+\]$/, '')}`);
  }
  return out;
}

function cgroups(): string[] {
  const out: string[] = [];
  try {
    for (const controller of readdirSync('/sys/fs/cgroup')) {
      try {
        for (const d of readdirSync(`/sys/fs/cgroup/${controller}`, { withFileTypes: true })) {
          if (d.isDirectory()) out.push(`${controller}/${d.name}`);
        }
      } catch {
        // not a directory
      }
    }
  } catch {
    // no cgroup fs
  }
  return out;
}

export async function captureHostState(opts: HostStateOptions = {}): Promise<HostState> {
  return {
    processes: processes(),
    mounts: mounts(),
    links: await links(),
    iptables: await rules('iptables-save'),
    ip6tables: await rules('ip6tables-save'),
    cgroups: cgroups(),
    sysctls: (opts.sysctls ?? []).map((s) => {
      try {
        return `${s}=${readFileSync(`/proc/sys/${s}`, 'utf8').trim()}`;
      } catch {
        return `${s} absent`;
      }
    }),
    paths: (opts.paths ?? []).map((p) => `${p} ${existsSync(p) ? 'exists' : 'absent'}`),
  };
}

export interface HostDiffLine {
  category: string;
  change: '+' | '-';
  line: string;
}

/** Lines present in one picture and not the other (as multisets), per category. */
export function diffHostState(before: HostState, after: HostState): HostDiffLine[] {
  const out: HostDiffLine[] = [];
  for (const category of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const count = new Map<string, number>();
    for (const l of before[category] ?? []) count.set(l, (count.get(l) ?? 0) + 1);
    for (const l of after[category] ?? []) count.set(l, (count.get(l) ?? 0) - 1);
    for (const [line, n] of count) {
      for (let i = 0; i < Math.abs(n); i++) out.push({ category, change: n > 0 ? '-' : '+', line });
    }
  }
  return out;
}

/**
 * Splits differences into those matching a peer's signature (left behind by it) and
 * the rest (other work on the machine in the meantime).
 */
export function attributeDiff(
  diff: readonly HostDiffLine[],
  signatures: readonly RegExp[],
): { ours: HostDiffLine[]; others: HostDiffLine[] } {
  const ours: HostDiffLine[] = [];
  const others: HostDiffLine[] = [];
  for (const d of diff) (signatures.some((s) => s.test(d.line)) ? ours : others).push(d);
  return { ours, others };
}

export function formatDiff(diff: readonly HostDiffLine[]): string {
  return diff.map((d) => `  ${d.change} ${d.category}: ${d.line}`).join('\n');
}
