// podman as a peer: Debian's podman (4.3) serving the Docker-compatible API on a unix
// socket (`podman system service`), crun as its runtime, every file of its own in a
// temporary directory: containers.conf and storage.conf given by CONTAINERS_CONF and
// CONTAINERS_STORAGE_CONF (so the host's /etc/containers plays no part), storage
// (overlay) and run root, its tmp dir, events log, and its CNI network config with the
// network's IPAM leases.
//
// Its default network is one of ours, written as podman's own default (bridge with NAT,
// portmap, firewall, tuning: /etc/cni/net.d/87-podman-bridge.conflist) but with a bridge
// and network name carrying the owner's pid, so what it leaves is told from other work.
// Containers get the service's own open-files and process limits (by default podman
// asks crun for 1,048,576 of each, which a process without CAP_SYS_RESOURCE cannot set;
// dockerd's containers inherit its limits the same way).
//
// What podman changes outside its directory, and how stop() undoes it:
//   - iptables: the firewall plugin's CNI-FORWARD and CNI-ADMIN chains and the FORWARD
//     jump, a NAT chain per container (removed with the container) → removed by diffing
//     iptables-save against the picture taken at start;
//   - the network's bridge → deleted;
//   - cgroups under /libpod_parent (cgroupfs manager; conmon in /libpod_parent/conmon)
//     → removed unless it was there before;
//   - /var/lib/cni (libcni's result cache; podman 4.3 cannot move it) → the network's
//     entries removed, the directory too unless it was there before.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type CommandResult,
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

const PODMAN = '/usr/bin/podman';
const DOCKER = '/usr/local/bin/docker';
const DIR_PREFIX = 'sbp-';
const CGROUP_PARENT = 'libpod_parent';
const CNI_STATE = '/var/lib/cni';
/** The firewall plugin's chains (skiff's own CNI use has no firewall plugin) and a container's NAT chain. */
const CNI_CHAINS = /CNI-FORWARD|CNI-ADMIN|CNI-[0-9a-f]{24}\b/;

export interface PodmanOptions {
  log?: (message: string) => void;
}

export interface PodmanPeer {
  /** e.g. `podman 4.3.1 + crun`. */
  label: string;
  /** `unix:///tmp/…/podman.sock`, for DOCKER_HOST. */
  host: string;
  stateDir: string;
  /** From spawning the service to its API answering /_ping. */
  readyMs: number;
  /** Regexps matching what this service could leave on the host (for leftover checks). */
  signatures: RegExp[];
  /** The docker CLI against this service; throws on a non-zero exit. */
  docker(args: readonly string[], timeoutMs?: number): Promise<string>;
  /** Same, resolving with the exit status and output whatever they are. */
  dockerResult(args: readonly string[], timeoutMs?: number): Promise<CommandResult>;
  /** Stops the service and undoes everything it changed. Safe to call twice. */
  stop(): Promise<void>;
}

/** The network and bridge name of the run whose process is `pid`. */
function networkName(pid: number): string {
  return `sbp-${pid.toString(36)}`;
}

function podmanServiceRunning(): boolean {
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (argv[0]?.endsWith('podman') && argv.includes('service')) return true;
    } catch {
      // gone
    }
  }
  return false;
}

/** Removes libcni's cached results of a network (files named `<network>-<container>-<if>`). */
async function removeCniResults(network: string): Promise<void> {
  const dir = join(CNI_STATE, 'results');
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) if (n.startsWith(`${network}-`)) await rm(join(dir, n), { force: true });
}

/**
 * Removes what an earlier run killed with SIGKILL left behind: its service, conmons and
 * containers, its directory (with its mounts), its bridge, the iptables rules naming its
 * network, libcni's results of its network, and — while no podman service runs —
 * /libpod_parent, the firewall plugin's chains and libcni's cache once empty. Returns
 * what it removed.
 */
export async function sweepPodmanLeftovers(): Promise<string[]> {
  const removed: string[] = [];
  for (const name of readdirSync(tmpdir())) {
    const owner = new RegExp(`^${DIR_PREFIX}([0-9a-z]+)-`).exec(name)?.[1];
    if (owner === undefined) continue;
    const pid = Number.parseInt(owner, 36);
    if (isAlive(pid)) continue; // its run is still going
    const dir = join(tmpdir(), name);
    for (const p of pidsMentioning(dir)) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await waitFor(() => pidsMentioning(dir).length === 0, {
      what: `the processes of ${dir} to exit`,
      timeoutMs: 5000,
    }).catch(() => {});
    for (const m of mountsUnder(dir)) await runCommand('umount', ['-l', m]);
    await rm(dir, { recursive: true, force: true });
    removed.push(dir);
    const network = networkName(pid);
    if ((await linkNames()).includes(network)) {
      await runCommand('ip', ['link', 'del', network]);
      removed.push(`link ${network}`);
    }
    await removeCniResults(network);
    const names = new RegExp(`${literal(network)}\\b`);
    for (const family of ['ipv4', 'ipv6'] as const) {
      const now = await saveRules(family);
      const without: RuleSet = { chains: now.chains, rules: new Map() };
      for (const [table, rules] of now.rules)
        without.rules.set(
          table,
          rules.filter((r) => !names.test(r)),
        );
      removed.push(...(await undoRules(family, without, (s) => names.test(s))));
    }
  }
  if (podmanServiceRunning()) return removed;
  if (existsSync(join('/sys/fs/cgroup/pids', CGROUP_PARENT))) {
    removeCgroupTree(CGROUP_PARENT);
    removed.push(`cgroup ${CGROUP_PARENT}`);
  }
  // libcni's cache, once empty (its results went with the dead runs' networks).
  for (const d of [join(CNI_STATE, 'results'), CNI_STATE]) {
    try {
      rmdirSync(d);
      removed.push(d);
    } catch {
      // absent, or someone else's entries in it
    }
  }
  // The firewall plugin's chains, which no podman's network uses any more.
  for (const family of ['ipv4', 'ipv6'] as const) {
    const now = await saveRules(family);
    const without: RuleSet = { chains: new Map(), rules: new Map() };
    for (const [table, chains] of now.chains)
      without.chains.set(table, new Map([...chains].filter(([c]) => !CNI_CHAINS.test(c))));
    for (const [table, rules] of now.rules)
      without.rules.set(
        table,
        rules.filter((r) => !CNI_CHAINS.test(r)),
      );
    removed.push(...(await undoRules(family, without, (s) => CNI_CHAINS.test(s))));
  }
  return removed;
}

export async function startPodman(opts: PodmanOptions = {}): Promise<PodmanPeer> {
  const log = opts.log ?? (() => {});
  await ensurePackage('podman', PODMAN, log);
  for (const what of await sweepPodmanLeftovers()) log(`removed a crashed run's leftover: ${what}`);

  // Short paths: the API socket lives here and unix paths max out at 108.
  const stateDir = await mkdtemp(join(tmpdir(), `${DIR_PREFIX}${process.pid.toString(36)}-`));
  const network = networkName(process.pid);
  const socket = join(stateDir, 'podman.sock');
  const host = `unix://${socket}`;
  const isOurs = (s: string) => CNI_CHAINS.test(s) || s.includes(network);
  const before = {
    ipv4: await saveRules('ipv4'),
    ipv6: await saveRules('ipv6'),
    cgroup: existsSync(join('/sys/fs/cgroup/pids', CGROUP_PARENT)),
    cniState: existsSync(CNI_STATE),
  };
  let child: ChildProcess | undefined;
  let stopped: Promise<void> | undefined;
  const env = { ...process.env, DOCKER_HOST: host };
  const dockerResult = (args: readonly string[], timeoutMs = 120_000) =>
    runCommand(DOCKER, args, { env, timeoutMs });
  const docker = (args: readonly string[], timeoutMs = 120_000) =>
    runChecked(DOCKER, args, { env, timeoutMs });
  let readyMs = 0;

  const cleanup = async (): Promise<void> => {
    const { attempt, problems } = attempts();
    // conmons of containers the service could not remove are killed too.
    await stopDaemonPeer({ child, stateDir, docker: dockerResult, attempt, helpers: 'podman helpers' });
    if (!before.cgroup)
      await attempt('remove cgroups', () =>
        waitFor(
          () => {
            removeCgroupTree(CGROUP_PARENT);
            return !existsSync(join('/sys/fs/cgroup/pids', CGROUP_PARENT));
          },
          { what: `cgroup ${CGROUP_PARENT} to go`, timeoutMs: 10_000 },
        ),
      );
    if ((await linkNames()).includes(network))
      await attempt(`delete link ${network}`, () => runChecked('ip', ['link', 'del', network]));
    await attempt('iptables', () => undoRules('ipv4', before.ipv4, isOurs));
    await attempt('ip6tables', () => undoRules('ipv6', before.ipv6, isOurs));
    await attempt('libcni results', () => removeCniResults(network));
    if (!before.cniState)
      await attempt(`remove ${CNI_STATE}`, () => rm(CNI_STATE, { recursive: true, force: true }));
    await attempt('remove state dir', () => rm(stateDir, { recursive: true, force: true }));
    if (problems.length > 0) throw new Error(`podman cleanup incomplete: ${problems.join('; ')}`);
  };
  const stop = () => {
    stopped ??= cleanup().finally(unregister);
    return stopped;
  };
  const unregister = onInterrupt(`podman service in ${stateDir}`, stop);

  try {
    await writeConfig(stateDir, network);
    const logFd = openSync(join(stateDir, 'podman.log'), 'a');
    const spawnedAt = performance.now();
    child = spawn(PODMAN, ['system', 'service', '--time=0', host], {
      env: {
        ...process.env,
        CONTAINERS_CONF: join(stateDir, 'containers.conf'),
        CONTAINERS_STORAGE_CONF: join(stateDir, 'storage.conf'),
      },
      stdio: ['ignore', logFd, logFd],
    });
    closeSync(logFd);
    const died = new Promise<never>((_, reject) =>
      child!.once('exit', (code, signal) =>
        reject(
          new Error(
            `podman service exited at start (${signal ?? code}): ${tail(join(stateDir, 'podman.log'))}`,
          ),
        ),
      ),
    );
    died.catch(() => {});
    await Promise.race([died, waitForPing(socket, `podman on ${host} to answer /_ping`)]);
    readyMs = performance.now() - spawnedAt;
  } catch (e) {
    await stop().catch(() => {});
    throw e;
  }
  const version = (await docker(['version', '--format', '{{.Server.Version}}'])).trim();
  return {
    label: `podman ${version} + crun`,
    host,
    stateDir,
    readyMs,
    signatures: [
      new RegExp(literal(stateDir)),
      new RegExp(literal(network)),
      new RegExp(CGROUP_PARENT),
      // Its conmons name the state directory; skiff's own conmons are no leftover of podman's.
      /\/usr\/bin\/podman /,
      CNI_CHAINS,
      new RegExp(literal(CNI_STATE)),
    ],
    docker,
    dockerResult,
    stop,
  };
}

/** containers.conf, storage.conf and the default network's CNI config, all under `dir`. */
async function writeConfig(dir: string, network: string): Promise<void> {
  // The service lowers its own process limit to kernel.pid_max at start; its conmons and
  // crun inherit that.
  const nofile = hardLimit('Max open files');
  const nproc = Math.min(
    hardLimit('Max processes'),
    Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8')),
  );
  await writeFile(
    join(dir, 'containers.conf'),
    [
      '[containers]',
      `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]`,
      '[engine]',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `events_logfile_path = "${join(dir, 'events.log')}"`,
      'runtime = "crun"',
      `tmp_dir = "${join(dir, 'tmp')}"`,
      '[network]',
      'network_backend = "cni"',
      `network_config_dir = "${join(dir, 'net')}"`,
      `default_network = "${network}"`,
      'cni_plugin_dirs = ["/usr/lib/cni"]',
      '',
    ].join('\n'),
  );
  await writeFile(
    join(dir, 'storage.conf'),
    [
      '[storage]',
      'driver = "overlay"',
      `graphroot = "${join(dir, 'root')}"`,
      `runroot = "${join(dir, 'run')}"`,
      '',
    ].join('\n'),
  );
  await mkdir(join(dir, 'net'));
  const conflist = {
    cniVersion: '0.4.0',
    name: network,
    plugins: [
      {
        type: 'bridge',
        bridge: network,
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          dataDir: join(dir, 'ipam'),
          routes: [{ dst: '0.0.0.0/0' }],
          ranges: [[{ subnet: '10.88.0.0/16', gateway: '10.88.0.1' }]],
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
      { type: 'firewall' },
      { type: 'tuning' },
    ],
  };
  await writeFile(join(dir, 'net', `${network}.conflist`), `${JSON.stringify(conflist, null, 2)}\n`);
}

/** A hard limit of this process (what its children, and dockerd's containers, inherit). */
function hardLimit(name: 'Max open files' | 'Max processes'): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(name));
  // `Max processes  SOFT  HARD  processes`: the hard limit is the next-to-last field.
  const fields = line?.trim().split(/\s+/) ?? [];
  const hard = Number(fields[fields.length - 2]);
  // `unlimited`: podman's own default.
  return Number.isFinite(hard) && hard > 0 ? hard : 1_048_576;
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-5).join(' | ');
  } catch {
    return '(no log)';
  }
}
