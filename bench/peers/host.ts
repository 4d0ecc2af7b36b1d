// Host-side helpers the daemon peers share: the processes, mounts, links and cgroups a
// peer's stop and its sweep of a killed run's leftovers look at.
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { type CommandResult, runChecked, runCommand, waitFor } from '../lib/index.js';

/** One step of a peer's stop: a failure is noted in `problems` and the next step runs. */
export type Attempt = (what: string, fn: () => Promise<unknown> | unknown) => Promise<void>;

export function attempts(): { attempt: Attempt; problems: string[] } {
  const problems: string[] = [];
  const attempt: Attempt = async (what, fn) => {
    try {
      await fn();
    } catch (e) {
      problems.push(`${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  return { attempt, problems };
}

/**
 * The first part of a daemon peer's stop, the same for dockerd and podman: while the
 * daemon runs, the engine's own step (`first`: dockerd leaves its swarm), then its
 * containers removed through the API (so the engine tears their networks down itself),
 * then SIGTERM (SIGKILL after 20 s); then whatever still names the state directory
 * (containerd and its shims, conmons) killed and waited for, and the mounts under it
 * undone. The engine-specific rest (cgroups, links, rules) is the caller's.
 */
export async function stopDaemonPeer(o: {
  child: ChildProcess | undefined;
  stateDir: string;
  /** The docker CLI against the peer. */
  docker: (args: readonly string[], timeoutMs: number) => Promise<CommandResult>;
  attempt: Attempt;
  first?: { what: string; run: () => Promise<unknown> };
  /** What the leftover processes are, for the wait's error ("dockerd helpers"). */
  helpers: string;
}): Promise<void> {
  const { child, stateDir, attempt } = o;
  if (child && child.exitCode === null && child.signalCode === null) {
    if (o.first) await attempt(o.first.what, o.first.run);
    await attempt('remove containers', async () => {
      const ids = (await o.docker(['ps', '-aq'], 20_000)).stdout.split('\n').filter(Boolean);
      if (ids.length > 0) await o.docker(['rm', '-f', ...ids], 60_000);
    });
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(killer);
  }
  for (const pid of pidsMentioning(stateDir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await attempt(`wait for ${o.helpers} to exit`, () =>
    waitFor(() => pidsMentioning(stateDir).length === 0, {
      what: `${o.helpers} to exit`,
      timeoutMs: 10_000,
    }),
  );
  for (const m of mountsUnder(stateDir)) {
    await attempt(`unmount ${m}`, async () => {
      const r = await runCommand('umount', [m]);
      if (r.code !== 0) await runChecked('umount', ['-l', m]);
    });
  }
}

export async function linkNames(): Promise<string[]> {
  const r = await runCommand('ip', ['-j', 'link', 'show']);
  return (JSON.parse(r.stdout || '[]') as Array<{ ifname: string }>).map((l) => l.ifname);
}

/** Mount points at or under `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** Processes whose command line names `needle` (a peer's helpers name its state dir). */
export function pidsMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').includes(needle)) out.push(Number(e));
    } catch {
      // gone
    }
  }
  return out;
}

/** Kills every process in the cgroup subtree (container processes) and removes it, deepest first. */
export function removeCgroupTree(name: string): void {
  let controllers: string[] = [];
  try {
    controllers = readdirSync('/sys/fs/cgroup');
  } catch {
    return;
  }
  for (const c of controllers) {
    const root = join('/sys/fs/cgroup', c, name);
    if (!existsSync(root)) continue;
    const dirs: string[] = [];
    const walk = (d: string) => {
      dirs.push(d);
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
    };
    try {
      walk(root);
    } catch {
      continue;
    }
    for (const d of dirs.reverse()) {
      try {
        for (const pid of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // gone
          }
        }
      } catch {
        // no procs file
      }
      try {
        rmdirSync(d);
      } catch {
        // a process still exiting: retried below
      }
    }
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
