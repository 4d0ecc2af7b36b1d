// dockerd as a peer: Debian's docker.io (dockerd 20.10) with crun as its runtime and
// all of its state in a temporary directory, optionally in swarm mode.
//
// containerd: Debian's dockerd finds /usr/bin/containerd (a dependency of docker.io)
// and, with no --containerd flag, starts it itself as a child with its config, socket
// and state under --exec-root/containerd and its root under --data-root/containerd;
// it stops it on shutdown. So nothing of containerd's lives outside the temp directory.
//
// What dockerd changes outside its directories, and how stop() undoes it:
//   - iptables: DOCKER* chains, FORWARD/nat jumps and MASQUERADE rules for docker0 and
//     docker_gwbridge, and the FORWARD policy (DROP when it turns ip_forward on) →
//     removed by diffing iptables-save against the picture taken at start;
//   - links docker0 (and docker_gwbridge in swarm mode) → deleted;
//   - nsfs mounts of swarm's network namespaces under exec-root/netns → unmounted;
//   - cgroups under --cgroup-parent → removed;
//   - /etc/docker/key.json (its identity key; 20.10 has no flag to move it) and
//     /run/docker/plugins → removed unless they were there before;
//   - sysctls ip_forward and bridge-nf-call-ip(6)tables → put back.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage } from '../../test/fixtures/index.js';
import { freePort } from '../../test/lab/index.js';
import {
  type CommandResult,
  cpuMs,
  literal,
  onInterrupt,
  runChecked,
  runCommand,
  waitFor,
  waitForPing,
} from '../lib/index.js';
import { ensurePackage } from './apt.js';
import {
  attempts,
  isAlive,
  linkNames,
  mountsUnder,
  pidsMentioning,
  removeCgroupTree,
  stopDaemonPeer,
} from './host.js';
import { type RuleSet, saveRules, undoRules } from './iptables.js';

const DOCKERD = '/usr/sbin/dockerd';
const SYSCTLS = [
  'net/ipv4/ip_forward',
  'net/bridge/bridge-nf-call-iptables',
  'net/bridge/bridge-nf-call-ip6tables',
];
const OWNED_PATHS = ['/etc/docker/key.json', '/run/docker'];
/** Links dockerd makes: its default bridge, swarm's gateway bridge, user bridges. */
const LINK_PATTERN = /^(docker0|docker_gwbridge|br-[0-9a-f]{12})$/;
/** iptables chains and rules that are dockerd's. */
const RULE_PATTERN = /DOCKER|docker0|docker_gwbridge|br-[0-9a-f]{12}/;

export interface DockerdOptions {
  /** `docker swarm init` on loopback after start. */
  swarm?: boolean;
  log?: (message: string) => void;
}

export interface DockerdPeer {
  /** e.g. `dockerd 20.10.24 + crun`. */
  label: string;
  /** `unix:///tmp/…/docker.sock`, for DOCKER_HOST. */
  host: string;
  stateDir: string;
  /** From spawning dockerd to its API answering /_ping. */
  readyMs: number;
  /** The CPU time dockerd and containerd had used when the API answered (cpuMs). */
  readyCpuMs: number;
  /** Regexps matching what this daemon could leave on the host (for leftover checks). */
  signatures: RegExp[];
  /** `docker ARGS` against this daemon; throws on a non-zero exit. */
  docker(args: readonly string[], timeoutMs?: number): Promise<string>;
  /** Same, resolving with the exit status and output whatever they are. */
  dockerResult(args: readonly string[], timeoutMs?: number): Promise<CommandResult>;
  /** Loads a busybox image (from test/fixtures) under the given tags. */
  loadBusybox(tags?: readonly string[]): Promise<void>;
  swarmInit(): Promise<void>;
  swarmLeave(): Promise<void>;
  /**
   * Stops dockerd (SIGTERM: it stops its containerd too) and starts it again over the same
   * state; resolves with the ms from spawning it to its API answering /_ping, and the CPU
   * time the new processes had used by then.
   */
  restart(): Promise<{ readyMs: number; cpuMs: number }>;
  /** Stops dockerd and undoes everything it changed. Safe to call twice. */
  stop(): Promise<void>;
}

function readSysctl(name: string): string | undefined {
  try {
    return readFileSync(`/proc/sys/${name}`, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function dockerdRunning(): boolean {
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0')[0]?.endsWith('dockerd')) return true;
    } catch {
      // gone
    }
  }
  return false;
}

/**
 * Removes what an earlier run killed with SIGKILL left behind: its dockerd, containerd,
 * shims and containers, temp dirs (with their mounts) and cgroups, and — only while no dockerd
 * runs at all — docker's links, chains and rules. A FORWARD policy it changed cannot be
 * known any more and stays. Returns what it removed.
 */
export async function sweepDockerdLeftovers(): Promise<string[]> {
  const removed: string[] = [];
  const live = new Set<string>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      if (!cmd.startsWith(DOCKERD)) continue;
      // A dockerd whose benchmark process died (named in its cgroup parent) is a leftover too.
      const owner = /--cgroup-parent\0skiff-bench-docker-([0-9a-z]+)/.exec(cmd)?.[1];
      if (owner !== undefined && !isAlive(Number.parseInt(owner, 36))) continue;
      live.add(/--data-root\0([^\0]+)/.exec(cmd)?.[1]?.replace(/\/d$/, '') ?? '');
    } catch {
      // gone
    }
  }
  for (const name of readdirSync(tmpdir())) {
    const dir = join(tmpdir(), name);
    if (!/^sbd-/.test(name) || live.has(dir)) continue;
    for (const pid of pidsMentioning(dir)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const m of mountsUnder(dir)) await runCommand('umount', ['-l', m]);
    await rm(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  try {
    for (const name of readdirSync('/sys/fs/cgroup/pids')) {
      const owner = /^skiff-bench-docker-([0-9a-z]+)$/.exec(name)?.[1];
      if (owner === undefined || isAlive(Number.parseInt(owner, 36))) continue;
      removeCgroupTree(name);
      removed.push(`cgroup ${name}`);
    }
  } catch {
    // no pids controller
  }
  await waitFor(() => !dockerdRunning(), { what: 'killed dockerd to exit', timeoutMs: 5000 }).catch(() => {});
  if (dockerdRunning()) return removed;
  for (const name of await linkNames()) {
    if (!LINK_PATTERN.test(name)) continue;
    await runCommand('ip', ['link', 'del', name]);
    removed.push(`link ${name}`);
  }
  const isOurs = (x: string) => RULE_PATTERN.test(x);
  for (const family of ['ipv4', 'ipv6'] as const) {
    const now = await saveRules(family);
    const without: RuleSet = { chains: new Map(), rules: new Map() };
    for (const [table, chains] of now.chains)
      without.chains.set(table, new Map([...chains].filter(([c]) => !isOurs(c))));
    for (const [table, rules] of now.rules)
      without.rules.set(
        table,
        rules.filter((r) => !isOurs(r)),
      );
    removed.push(...(await undoRules(family, without, isOurs)));
  }
  return removed;
}

export async function startDockerd(opts: DockerdOptions = {}): Promise<DockerdPeer> {
  const log = opts.log ?? (() => {});
  await ensurePackage('docker.io', DOCKERD, log);
  for (const what of await sweepDockerdLeftovers()) log(`removed a crashed run's leftover: ${what}`);
  const existing = (await linkNames()).filter((n) => LINK_PATTERN.test(n));
  if (existing.length > 0)
    throw new Error(
      `another dockerd seems to run here (links ${existing.join(', ')} exist); stop it before benchmarking`,
    );

  // Short paths: containerd's sockets live under exec-root and unix paths max out at 108.
  const stateDir = await mkdtemp(join(tmpdir(), 'sbd-'));
  const cgroupParent = `skiff-bench-docker-${process.pid.toString(36)}`;
  const socket = join(stateDir, 'docker.sock');
  const host = `unix://${socket}`;
  const before = {
    ipv4: await saveRules('ipv4'),
    ipv6: await saveRules('ipv6'),
    sysctls: new Map(SYSCTLS.map((s) => [s, readSysctl(s)])),
    paths: new Map(OWNED_PATHS.map((p) => [p, existsSync(p)])),
    links: new Set(await linkNames()),
  };
  let child: ChildProcess | undefined;
  let stopped: Promise<void> | undefined;
  const env = { ...process.env, DOCKER_HOST: host };
  const dockerResult = (args: readonly string[], timeoutMs = 120_000) =>
    runCommand('docker', args, { env, timeoutMs });
  const docker = (args: readonly string[], timeoutMs = 120_000) =>
    runChecked('docker', args, { env, timeoutMs });
  let swarm = false;
  let ready = { readyMs: 0, cpuMs: 0 };

  const cleanup = async (): Promise<void> => {
    const { attempt, problems } = attempts();
    // containerd and its shims are killed too if dockerd died without stopping them.
    await stopDaemonPeer({
      child,
      stateDir,
      docker: dockerResult,
      attempt,
      ...(swarm
        ? { first: { what: 'swarm leave', run: () => dockerResult(['swarm', 'leave', '--force'], 30_000) } }
        : {}),
      helpers: 'dockerd helpers',
    });
    await attempt('remove cgroups', () =>
      waitFor(
        () => {
          removeCgroupTree(cgroupParent);
          return !existsSync(join('/sys/fs/cgroup', 'pids', cgroupParent));
        },
        { what: `cgroup ${cgroupParent} to go`, timeoutMs: 10_000 },
      ),
    );
    for (const name of await linkNames()) {
      if (LINK_PATTERN.test(name) && !before.links.has(name))
        await attempt(`delete link ${name}`, () => runChecked('ip', ['link', 'del', name]));
    }
    const isOurs = (s: string) => RULE_PATTERN.test(s);
    await attempt('iptables', () => undoRules('ipv4', before.ipv4, isOurs));
    await attempt('ip6tables', () => undoRules('ipv6', before.ipv6, isOurs));
    for (const [name, was] of before.sysctls) {
      if (was !== undefined && readSysctl(name) !== was)
        await attempt(`sysctl ${name}`, () => writeFile(`/proc/sys/${name}`, was));
    }
    for (const [path, existed] of before.paths) {
      if (!existed) await attempt(`remove ${path}`, () => rm(path, { recursive: true, force: true }));
    }
    await attempt('remove state dir', () => rm(stateDir, { recursive: true, force: true }));
    if (problems.length > 0) throw new Error(`dockerd cleanup incomplete: ${problems.join('; ')}`);
  };
  const stop = () => {
    stopped ??= cleanup().finally(unregister);
    return stopped;
  };
  const unregister = onInterrupt(`dockerd in ${stateDir}`, stop);

  const config = join(stateDir, 'daemon.json');
  /** Spawns dockerd and waits for its API; resolves with the ms that took and the CPU time used. */
  const launch = async (): Promise<{ readyMs: number; cpuMs: number }> => {
    const logFd = openSync(join(stateDir, 'dockerd.log'), 'a');
    const spawnedAt = performance.now();
    child = spawn(
      DOCKERD,
      [
        '--config-file',
        config,
        '--data-root',
        join(stateDir, 'd'),
        '--exec-root',
        join(stateDir, 'e'),
        '--pidfile',
        join(stateDir, 'dockerd.pid'),
        '-H',
        host,
        '--add-runtime',
        'crun=/usr/bin/crun',
        '--default-runtime',
        'crun',
        '--cgroup-parent',
        cgroupParent,
        // Containers need NAT and forwarding rules; stop() removes them.
        '--iptables=true',
        '--storage-driver',
        'overlay2',
      ],
      { stdio: ['ignore', logFd, logFd] },
    );
    closeSync(logFd);
    const died = new Promise<never>((_, reject) =>
      child!.once('exit', (code, signal) =>
        reject(
          new Error(`dockerd exited at start (${signal ?? code}): ${tail(join(stateDir, 'dockerd.log'))}`),
        ),
      ),
    );
    died.catch(() => {});
    await Promise.race([died, waitForPing(socket, `dockerd on ${host} to answer /_ping`)]);
    const readyMs = performance.now() - spawnedAt;
    return { readyMs, cpuMs: cpuMs(stateDir) };
  };
  try {
    // An empty config file so the host's /etc/docker/daemon.json, if any, plays no part.
    await writeFile(config, '{}\n');
    ready = await launch();
  } catch (e) {
    await stop().catch(() => {});
    throw e;
  }
  const version = (await docker(['version', '--format', '{{.Server.Version}}'])).trim();

  const peer: DockerdPeer = {
    label: `dockerd ${version} + crun`,
    host,
    stateDir,
    readyMs: ready.readyMs,
    readyCpuMs: ready.cpuMs,
    signatures: [
      new RegExp(literal(stateDir)),
      new RegExp(literal(cgroupParent)),
      /\/usr\/sbin\/dockerd|\/usr\/bin\/containerd|containerd-shim/,
      RULE_PATTERN,
      // A FORWARD policy left at DROP (dockerd's doing when it turns ip_forward on).
      /^filter :FORWARD /,
      /key\.json|\/run\/docker/,
      /net\/(ipv4\/ip_forward|bridge)/,
    ],
    docker,
    dockerResult,
    async loadBusybox(tags = ['busybox:latest']) {
      const image = await buildImage();
      const archive = join(stateDir, 'busybox.tar');
      try {
        await runChecked('skopeo', [
          '--insecure-policy',
          'copy',
          '--quiet',
          `oci:${image.ociRef}`,
          `docker-archive:${archive}:${tags[0]}`,
        ]);
        await docker(['load', '-q', '-i', archive]);
        for (const t of tags.slice(1)) await docker(['tag', tags[0]!, t]);
      } finally {
        await image.remove();
        await rm(archive, { force: true });
      }
    },
    async swarmInit() {
      const port = await freePort();
      // Loopback only: the swarm listens on 127.0.0.1, not on every address.
      await docker([
        'swarm',
        'init',
        '--advertise-addr',
        '127.0.0.1',
        '--listen-addr',
        `127.0.0.1:${port}`,
        '--data-path-addr',
        '127.0.0.1',
      ]);
      swarm = true;
    },
    async swarmLeave() {
      await docker(['swarm', 'leave', '--force']);
      swarm = false;
    },
    async restart() {
      const running = child;
      if (running && running.exitCode === null && running.signalCode === null) {
        const exited = new Promise<void>((r) => running.once('exit', () => r()));
        running.kill('SIGTERM');
        const killer = setTimeout(() => running.kill('SIGKILL'), 20_000);
        await exited;
        clearTimeout(killer);
      }
      // containerd (its child) is gone once dockerd has stopped it.
      await waitFor(() => pidsMentioning(stateDir).length === 0, {
        what: `dockerd's helpers in ${stateDir} to exit`,
        timeoutMs: 10_000,
      });
      return launch();
    },
    stop,
  };
  if (opts.swarm) {
    try {
      await peer.swarmInit();
    } catch (e) {
      await stop().catch(() => {});
      throw e;
    }
  }
  return peer;
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-5).join(' | ');
  } catch {
    return '(no log)';
  }
}
