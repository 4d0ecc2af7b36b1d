// A lasting lab, for `skiff lab`: simulated hosts that outlive the command that made
// them, found again by name through a record on disk. Unlike the test harness's labs
// (owned by a process, swept when it dies), it stays until `destroyLastingLab`.
//
//   /var/lib/skiff-lab/<name>/lab.json       the record (written before anything is made)
//   /var/lib/skiff-lab/<name>/h1 …           each host's state root (SKIFF_STATE_ROOT)
//   /run/skiff-lab/<name>/h1 …               each host's run directory (SKIFF_RUN_DIR, the API socket)
//   netns skiff-<name>-sw, skiff-<name>-h1 … the switch and the hosts; root link sk-<name>
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SkiffError } from '../lib/index.js';
import { type CommandResult, type RunOptions, runCommand } from './command.js';
import { listMounts } from './mounts.js';
import { inNetns } from './netns.js';
import { createTopology } from './topology.js';

export const LASTING_LAB_STATE_ROOT = '/var/lib/skiff-lab';
export const LASTING_LAB_RUN_ROOT = '/run/skiff-lab';
export const MAX_LAB_HOSTS = 9;

export interface LabNodeRecord {
  /** `h1`, `h2`, … */
  name: string;
  netns: string;
  addr: string;
  /** SKIFF_STATE_ROOT of the skiff node on this host. */
  stateRoot: string;
  /** SKIFF_RUN_DIR of the skiff node on this host (its API socket, if a manager). */
  runDir: string;
}

export interface LastingLabRecord {
  name: string;
  /** `10.199.N.0/24`. */
  subnet: string;
  /** The root namespace's address on the lab's switch: processes here reach the hosts. */
  rootAddr: string;
  rootLink: string;
  switchNetns: string;
  hosts: LabNodeRecord[];
}

const NAME_RE = /^[a-z][a-z0-9]{0,7}$/;

/** A clear error for a name that cannot name namespaces and links (15-character limit). */
export function checkLabName(name: string): void {
  if (!NAME_RE.test(name))
    throw new SkiffError(
      'invalid_argument',
      `invalid lab name "${name}": use 1 to 8 lowercase letters and digits, starting with a letter`,
    );
}

export function checkLabHosts(hosts: number): void {
  if (!Number.isInteger(hosts) || hosts < 1 || hosts > MAX_LAB_HOSTS)
    throw new SkiffError('invalid_argument', `a lab has 1 to ${MAX_LAB_HOSTS} hosts, not "${hosts}"`);
}

/** Where everything of lab `name` lives: pure, the plan `createLastingLab` carries out. */
export function planLastingLab(name: string, hosts: number, octet: number): LastingLabRecord {
  checkLabName(name);
  checkLabHosts(hosts);
  return {
    name,
    subnet: `10.199.${octet}.0/24`,
    rootAddr: `10.199.${octet}.1`,
    rootLink: `sk-${name}`,
    switchNetns: `skiff-${name}-sw`,
    hosts: Array.from({ length: hosts }, (_, i) => {
      const host = `h${i + 1}`;
      return {
        name: host,
        netns: `skiff-${name}-${host}`,
        addr: `10.199.${octet}.${11 + i}`,
        stateRoot: join(LASTING_LAB_STATE_ROOT, name, host),
        runDir: join(LASTING_LAB_RUN_ROOT, name, host),
      };
    }),
  };
}

/** The record of lab `name`, if it exists. */
export function readLastingLab(name: string): LastingLabRecord | undefined {
  checkLabName(name);
  try {
    return JSON.parse(readFileSync(recordFile(name), 'utf8')) as LastingLabRecord;
  } catch {
    return undefined;
  }
}

/** Names of the labs that have a record on this machine. */
export function listLastingLabs(): string[] {
  try {
    return readdirSync(LASTING_LAB_STATE_ROOT).filter((n) => NAME_RE.test(n) && readLastingLab(n));
  } catch {
    return [];
  }
}

/**
 * Makes the hosts of a new lab: the record first (so a half-made lab can be removed),
 * then the namespaces, the switch and the root link, then each host's directories.
 * Refuses a name in use; on failure removes what it made.
 */
export async function createLastingLab(name: string, hosts: number): Promise<LastingLabRecord> {
  checkLabName(name);
  checkLabHosts(hosts);
  if (readLastingLab(name) || leftoversOf(name).length > 0)
    throw new SkiffError('already_exists', `a lab named "${name}" exists already`, {
      hint: `remove it first with \`skiff lab down --name ${name}\`, or pick another --name`,
    });
  const record = planLastingLab(name, hosts, freeOctet(name));
  mkdirSync(join(LASTING_LAB_STATE_ROOT, name), { recursive: true });
  writeFileSync(recordFile(name), `${JSON.stringify(record, null, 2)}\n`);
  try {
    await createTopology({
      switchNetns: record.switchNetns,
      hosts: record.hosts,
      prefixLength: 24,
      rootLink: { name: record.rootLink, addr: record.rootAddr },
    });
    for (const h of record.hosts) {
      mkdirSync(h.stateRoot, { recursive: true });
      mkdirSync(h.runDir, { recursive: true });
    }
    return record;
  } catch (e) {
    destroyLastingLab(name);
    throw e;
  }
}

/**
 * Runs a command on a lab host: in its network namespace, under the host's name (a UTS
 * namespace of its own, so nodes tell apart in `node ls`), with the machine's mounts
 * (containers need the real cgroup hierarchy), and the host's skiff roots in the
 * environment.
 */
export function execOnLabHost(
  host: LabNodeRecord,
  cmd: string,
  args: readonly string[],
  opts: RunOptions = {},
): Promise<CommandResult> {
  const { SKIFF_HOST: _ignored, ...inherited } = opts.env ?? process.env;
  const env = { ...inherited, SKIFF_STATE_ROOT: host.stateRoot, SKIFF_RUN_DIR: host.runDir };
  const named = [
    '--uts',
    '--',
    'sh',
    '-c',
    'hostname "$1" && shift && exec "$@"',
    'sh',
    host.name,
    cmd,
    ...args,
  ];
  return runCommand(...inNetns(host.netns, 'unshare', named, true), { ...opts, env });
}

/**
 * Removes everything of lab `name`: its nodes' processes and containers, their mounts,
 * the namespaces and links, the directories and the record. Synchronous and best
 * effort on each step; returns what was left over before it ran (empty: nothing was there).
 */
export function destroyLastingLab(name: string): string[] {
  checkLabName(name);
  const found = leftoversOf(name);
  const record = readLastingLab(name);
  const netns = listNetns().filter((n) => n.startsWith(`skiff-${name}-`));
  const roots = [join(LASTING_LAB_STATE_ROOT, name), join(LASTING_LAB_RUN_ROOT, name)];
  // The nodes, and whatever they started outside their namespaces (conmon, containers).
  for (const ns of netns) killAll(pidsOf(ns));
  killAll(pidsMentioning(roots));
  for (const h of record?.hosts ?? []) {
    const crunRoot = join(h.runDir, 'runtime', 'crun');
    const ids = spawnSync('crun', ['--root', crunRoot, 'list', '-q'], { encoding: 'utf8', timeout: 10_000 });
    for (const id of (ids.stdout ?? '').split('\n').filter(Boolean))
      spawnSync('crun', ['--root', crunRoot, 'delete', '-f', id], { timeout: 10_000 });
  }
  for (const m of mountsUnder(roots)) spawnSync('umount', ['-l', m], { timeout: 10_000 });
  spawnSync('ip', ['link', 'delete', `sk-${name}`], { timeout: 10_000 });
  for (const ns of netns) spawnSync('ip', ['netns', 'delete', ns], { timeout: 10_000 });
  for (const dir of roots) rmSync(dir, { recursive: true, force: true });
  return found;
}

/** What of lab `name` exists on the machine: namespaces, the root link, mounts, directories. */
export function leftoversOf(name: string): string[] {
  checkLabName(name);
  const roots = [join(LASTING_LAB_STATE_ROOT, name), join(LASTING_LAB_RUN_ROOT, name)];
  const link = spawnSync('ip', ['link', 'show', `sk-${name}`], { encoding: 'utf8', timeout: 10_000 });
  return [
    ...listNetns()
      .filter((n) => n.startsWith(`skiff-${name}-`))
      .map((n) => `netns ${n}`),
    ...(link.status === 0 ? [`link sk-${name}`] : []),
    ...mountsUnder(roots).map((m) => `mount ${m}`),
    ...roots.filter(exists).map((d) => `directory ${d}`),
  ];
}

function recordFile(name: string): string {
  return join(LASTING_LAB_STATE_ROOT, name, 'lab.json');
}

/** A third octet no other lasting lab uses and no route of this machine covers. */
function freeOctet(name: string): number {
  const used = new Set(
    listLastingLabs()
      .filter((n) => n !== name)
      .map((n) => readLastingLab(n)?.subnet.split('.')[2]),
  );
  const routes = spawnSync('ip', ['-4', 'route', 'show'], { encoding: 'utf8', timeout: 10_000 }).stdout ?? '';
  let start = 0;
  for (const c of name) start = (start * 31 + c.charCodeAt(0)) % 250;
  for (let i = 0; i < 250; i++) {
    const octet = ((start + i) % 250) + 1;
    if (!used.has(String(octet)) && !routes.includes(`10.199.${octet}.`)) return octet;
  }
  throw new SkiffError('unavailable', 'no free lab subnet in 10.199.1-250.0/24', {
    hint: 'remove labs you no longer need with `skiff lab down --name NAME`',
  });
}

function listNetns(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 10_000 });
  return (r.stdout ?? '')
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

function pidsOf(netns: string): number[] {
  const r = spawnSync('ip', ['netns', 'pids', netns], { encoding: 'utf8', timeout: 10_000 });
  return (r.stdout ?? '')
    .split(/\s+/)
    .filter((p) => /^\d+$/.test(p))
    .map(Number);
}

/** Processes whose command line names one of `paths` (a node's conmon names its run directory). */
function pidsMentioning(paths: readonly string[]): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    if (paths.some((p) => cmdline.includes(`${p}/`) || cmdline.includes(`${p}\0`))) pids.push(Number(entry));
  }
  return pids;
}

function killAll(pids: readonly number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function mountsUnder(roots: readonly string[]): string[] {
  return listMounts().filter((m) => roots.some((r) => m === r || m.startsWith(`${r}/`)));
}

function exists(path: string): boolean {
  try {
    readdirSync(path);
    return true;
  } catch {
    return false;
  }
}
