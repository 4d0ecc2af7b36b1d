// Removes everything of one lab run, found by its name prefix: processes in its
// namespaces, mounts under its directory, its namespaces, root-namespace links, its
// directory and its subnet claim. Synchronous on purpose: it also runs from
// process-exit and signal handlers, where nothing asynchronous completes.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listMounts } from '../../lab/index.js';
import { parseRunName } from './names.js';

/** Per-host directories of every run live under here, one directory per run prefix. */
export const LAB_DIR = join(tmpdir(), 'skiff-lab');
/** Subnet claims (`subnet-<n>` holding the owning prefix) so parallel labs never share one. */
export const CLAIMS_DIR = '/run/skiff-test/lab';

export interface RunResources {
  netns: string[];
  links: string[];
  mounts: string[];
  dir: string | undefined;
  claims: string[];
}

function ip(args: string[]): { ok: boolean; out: string } {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  return { ok: r.status === 0, out: r.stdout ?? '' };
}

export function listNetns(): string[] {
  return ip(['netns', 'list'])
    .out.split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name !== '');
}

export function listRootLinks(): string[] {
  return ip(['-o', 'link', 'show'])
    .out.split('\n')
    .map((line) => /^\d+:\s+([^:@\s]+)/.exec(line)?.[1] ?? '')
    .filter((name) => name !== '');
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function claimOwner(file: string): string {
  try {
    return readFileSync(join(CLAIMS_DIR, file), 'utf8').trim();
  } catch {
    return '';
  }
}

/** Every lab resource on the machine, grouped by run prefix. */
export function findRuns(): Map<string, RunResources> {
  const runs = new Map<string, RunResources>();
  const get = (prefix: string): RunResources => {
    let run = runs.get(prefix);
    if (!run) {
      run = { netns: [], links: [], mounts: [], dir: undefined, claims: [] };
      runs.set(prefix, run);
    }
    return run;
  };
  for (const name of listNetns()) {
    const parsed = parseRunName(name);
    if (parsed) get(parsed.prefix).netns.push(name);
  }
  for (const name of listRootLinks()) {
    const parsed = parseRunName(name);
    if (parsed) get(parsed.prefix).links.push(name);
  }
  for (const name of listDir(LAB_DIR)) {
    const parsed = parseRunName(name);
    if (parsed && parsed.prefix === name) get(name).dir = join(LAB_DIR, name);
  }
  for (const file of listDir(CLAIMS_DIR)) {
    const parsed = parseRunName(claimOwner(file));
    if (parsed) get(parsed.prefix).claims.push(join(CLAIMS_DIR, file));
  }
  const mounts = listMounts();
  for (const [prefix, run] of runs) {
    const dir = join(LAB_DIR, prefix);
    run.mounts = mounts.filter((m) => m === dir || m.startsWith(dir + '/'));
  }
  return runs;
}

/** Kills every process in the run's namespaces and removes all its resources. */
export function removeRun(prefix: string, run: RunResources | undefined = findRuns().get(prefix)): void {
  if (!run) return;
  for (const ns of run.netns) {
    for (const pid of ip(['netns', 'pids', ns])
      .out.split(/\s+/)
      .filter((p) => /^\d+$/.test(p))) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  for (const mount of run.mounts) spawnSync('umount', ['-l', mount], { timeout: 10_000 });
  // Links first: deleting a veth end removes its peer at once, while a deleted
  // namespace's devices go away asynchronously.
  for (const link of run.links) ip(['link', 'delete', link]);
  for (const ns of run.netns) ip(['netns', 'delete', ns]);
  if (run.dir) rmSync(run.dir, { recursive: true, force: true });
  for (const claim of run.claims) rmSync(claim, { force: true });
}
