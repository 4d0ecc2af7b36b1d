// The multi-host lab: N simulated hosts, each a network namespace with its own address,
// plugged by veth pairs into a switch (a Linux bridge in a namespace of its own).
// Everything is created inside the lab's namespaces, so nothing shows in the root
// namespace except the optional link that lets the test process reach the hosts.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type CommandResult,
  createTopology,
  ipBatch,
  type RunOptions,
  runChecked,
  runCommand,
  switchPort,
} from '../../lab/index.js';
import { hostNetns, newRunPrefix, rootLinkName, switchNetns } from './names.js';
import { inNetns, LabProcess, type LabSpawnOptions } from './process.js';
import { CLAIMS_DIR, findRuns, LAB_DIR, removeRun } from './teardown.js';

export interface CreateLabOptions {
  hosts: number;
  /**
   * Also connect the test process's own namespace to the switch (it gets `.1`), so the
   * test can reach the hosts' addresses directly (default false).
   */
  hostAccess?: boolean;
}

export interface LabRunOptions extends RunOptions {
  /** See LabSpawnOptions.sharedMounts. */
  sharedMounts?: boolean;
}

export interface LabHost {
  /** `h1`, `h2`, … */
  name: string;
  netns: string;
  /** IPv4 address on the lab subnet. */
  addr: string;
  /** The host's interface on the switch (`eth0`). */
  iface: string;
  /** A directory of its own (state and run roots of whatever runs there). */
  dir: string;
  /** Runs a command to completion inside the host's network namespace. */
  exec(cmd: string, args: readonly string[], opts?: LabRunOptions): Promise<CommandResult>;
  /** Like exec, but returns stdout and throws (with stderr) on a non-zero exit. */
  run(cmd: string, args: readonly string[], opts?: LabRunOptions): Promise<string>;
  /** Starts a long-running process inside the host; the lab stops it on destroy. */
  spawn(cmd: string, args: readonly string[], opts?: LabSpawnOptions): LabProcess;
  /** Processes started with spawn, in order. */
  processes(): readonly LabProcess[];
  /** Kills every process started in this host (SIGKILL by default) and waits for them. */
  killAll(signal?: NodeJS.Signals): Promise<void>;
  /**
   * A power cut: SIGKILL to every process in the host's network namespace, spawned here
   * or not (e.g. what a node agent started), then waits for the tracked ones to exit.
   */
  crash(): Promise<void>;
}

export interface Lab {
  /** The run prefix every name of this lab starts with. */
  prefix: string;
  /** `10.200.N.0/24`. */
  subnet: string;
  hosts: LabHost[];
  /** The test process's address on the switch when created with hostAccess. */
  rootAddr: string | undefined;
  host(name: string): LabHost;
  /** Takes the host's switch port down: the host is partitioned from all others. */
  cut(host: LabHost | string): Promise<void>;
  /** Brings the host's switch port back up. */
  restore(host: LabHost | string): Promise<void>;
  /**
   * Drops all traffic between two hosts (both ways) on the switch while both keep
   * talking to everyone else: a partial partition.
   */
  block(a: LabHost | string, b: LabHost | string): Promise<void>;
  unblock(a: LabHost | string, b: LabHost | string): Promise<void>;
  /** Removes every block and restores every cut host. */
  heal(): Promise<void>;
  /** Stops every process and removes every namespace, link and directory. Idempotent. */
  destroy(): Promise<void>;
}

const live = new Map<string, () => void>();
let hooksInstalled = false;

export async function createLab(opts: CreateLabOptions): Promise<Lab> {
  if (!Number.isInteger(opts.hosts) || opts.hosts < 1 || opts.hosts > 200) {
    throw new Error(`createLab: hosts must be an integer from 1 to 200, got ${opts.hosts}`);
  }
  installExitHooks();
  const prefix = newRunPrefix();
  const sw = switchNetns(prefix);
  const runDir = join(LAB_DIR, prefix);
  const tracked: LabProcess[] = [];
  const emergencyTeardown = () => {
    for (const p of tracked) if (p.running && p.pid) safeKill(p.pid);
    removeRun(prefix);
  };
  live.set(prefix, emergencyTeardown);

  try {
    const octet = claimSubnet(prefix);
    const subnet = `10.200.${octet}.0/24`;
    mkdirSync(runDir, { recursive: true });

    const specs = Array.from({ length: opts.hosts }, (_, i) => {
      const name = `h${i + 1}`;
      return {
        name,
        netns: hostNetns(prefix, name),
        addr: `10.200.${octet}.${11 + i}`,
        dir: join(runDir, name),
      };
    });
    const rootLink = opts.hostAccess ? { name: rootLinkName(prefix), addr: `10.200.${octet}.1` } : undefined;
    await createTopology({
      switchNetns: sw,
      hosts: specs,
      prefixLength: 24,
      ...(rootLink ? { rootLink } : {}),
    });
    const hosts: LabHost[] = [];
    for (const spec of specs) {
      mkdirSync(spec.dir, { recursive: true });
      hosts.push(makeHost(spec, tracked));
    }
    const rootAddr = rootLink?.addr;

    const byName = (host: LabHost | string): LabHost => {
      const name = typeof host === 'string' ? host : host.name;
      const found = hosts.find((h) => h.name === name);
      if (!found) throw new Error(`lab ${prefix} has no host '${name}' (hosts: ${hosts.map((h) => h.name)})`);
      return found;
    };
    const blocked = new Set<string>();
    const pairKey = (a: LabHost | string, b: LabHost | string) =>
      [byName(a).name, byName(b).name].sort().join(' ');
    // The switch's bridge filter holds one drop rule per direction of each blocked pair;
    // the whole table is rewritten on every change, atomically by nft.
    const writeBlocks = async () => {
      const rules = [...blocked].flatMap((pair) => {
        const [x, y] = pair.split(' ') as [string, string];
        return [
          `add rule bridge skiff_lab forward iifname "${switchPort(x)}" oifname "${switchPort(y)}" drop`,
          `add rule bridge skiff_lab forward iifname "${switchPort(y)}" oifname "${switchPort(x)}" drop`,
        ];
      });
      const script = [
        'table bridge skiff_lab {}',
        'delete table bridge skiff_lab',
        'table bridge skiff_lab { chain forward { type filter hook forward priority 0; policy accept; }; }',
        ...rules,
      ];
      await runChecked('ip', ['netns', 'exec', sw, 'nft', '-f', '-'], { input: script.join('\n') + '\n' });
    };
    let destroyed: Promise<void> | undefined;
    return {
      prefix,
      subnet,
      hosts,
      rootAddr,
      host: byName,
      cut: async (host) => {
        await runChecked('ip', ['-n', sw, 'link', 'set', switchPort(byName(host).name), 'down']);
      },
      restore: async (host) => {
        await runChecked('ip', ['-n', sw, 'link', 'set', switchPort(byName(host).name), 'up']);
      },
      block: async (a, b) => {
        if (byName(a) === byName(b))
          throw new Error(`lab ${prefix}: cannot block ${byName(a).name} from itself`);
        blocked.add(pairKey(a, b));
        await writeBlocks();
      },
      unblock: async (a, b) => {
        blocked.delete(pairKey(a, b));
        await writeBlocks();
      },
      heal: async () => {
        blocked.clear();
        await writeBlocks();
        await ipBatch(
          sw,
          hosts.map((h) => `link set ${switchPort(h.name)} up`),
        );
      },
      destroy: () => {
        destroyed ??= (async () => {
          // A process stuck in the kernel must not hang the teardown: give up waiting after 10 s.
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([
            Promise.all(hosts.map((h) => h.killAll('SIGKILL'))),
            new Promise((resolve) => {
              timer = setTimeout(resolve, 10_000);
            }),
          ]);
          clearTimeout(timer);
          removeRun(prefix);
          live.delete(prefix);
        })();
        return destroyed;
      },
    };
  } catch (e) {
    emergencyTeardown();
    live.delete(prefix);
    throw e;
  }
}

/** Whether anything of the run still exists (namespaces, links, directory). */
export function labLeftovers(prefix: string): string[] {
  const run = findRuns().get(prefix);
  if (!run) return [];
  return [...run.netns, ...run.links, ...run.mounts, ...(run.dir ? [run.dir] : []), ...run.claims];
}

function makeHost(
  base: { name: string; netns: string; addr: string; dir: string },
  labProcesses: LabProcess[],
): LabHost {
  const mine: LabProcess[] = [];
  return {
    ...base,
    iface: 'eth0',
    exec: (cmd, args, opts) => runCommand(...inNetns(base.netns, cmd, args, opts?.sharedMounts), opts),
    run: (cmd, args, opts) => runChecked(...inNetns(base.netns, cmd, args, opts?.sharedMounts), opts),
    spawn: (cmd, args, opts) => {
      const p = new LabProcess(base.netns, cmd, args, opts);
      mine.push(p);
      labProcesses.push(p);
      return p;
    },
    processes: () => mine,
    killAll: async (signal = 'SIGKILL') => {
      await Promise.all(mine.map((p) => p.kill(signal)));
    },
    crash: async () => {
      const pids = await runChecked('ip', ['netns', 'pids', base.netns]);
      for (const pid of pids.split(/\s+/).filter((p) => /^\d+$/.test(p))) safeKill(Number(pid));
      await Promise.all(mine.map((p) => p.kill('SIGKILL')));
    },
  };
}

/** Claims a free third octet for the lab subnet; the claim file names the owner run. */
function claimSubnet(prefix: string): number {
  mkdirSync(CLAIMS_DIR, { recursive: true });
  const start = hashOctet(prefix);
  for (let i = 0; i < 250; i++) {
    const octet = ((start + i) % 250) + 1;
    try {
      writeFileSync(join(CLAIMS_DIR, `subnet-${octet}`), prefix, { flag: 'wx' });
      return octet;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  throw new Error(`no free lab subnet in 10.200.1-250.0/24: remove stale claims in ${CLAIMS_DIR}`);
}

function hashOctet(s: string): number {
  let h = 0;
  for (const c of s) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return h % 250;
}

function safeKill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

// An interrupted or crashing test must not leave namespaces behind: tear down every
// live lab synchronously on exit and on SIGINT/SIGTERM.
function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  const teardownAll = () => {
    for (const [prefix, teardown] of live) {
      live.delete(prefix);
      try {
        teardown();
      } catch {
        // best effort: the sweeper gets the rest
      }
    }
  };
  process.on('exit', teardownAll);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      teardownAll();
      process.kill(process.pid, signal);
    });
  }
}
