// A cluster of real `skiff daemon`s on lab hosts, for system tests:
//
//   const c = await startLabCluster({ managers: 3, workers: 2, image: true });
//   try {
//     await c.skiff(['service', 'create', '--name', 'web', 'localhost/lab-busybox:1', 'sleep', '3600']);
//     const leader = await c.leader();           // the manager node that leads now
//     await c.killDaemon(leader);                // kill -9 its daemon (containers keep running)
//     await c.skiff(['node', 'ls']);             // goes to a manager whose daemon runs
//     await c.restartDaemon(leader);             // `skiff daemon run` again, same state
//     await c.stopDaemon(leader);                // `skiff daemon stop` (a clean stop)
//     await c.api().listTasks();                 // the Engine API of a live manager
//     await c.crash(c.workers[0]!);              // kill -9 the host: daemon and containers
//   } finally {
//     await c.destroy();                         // daemons, containers, mounts, namespaces, dirs
//   }
//
// Node i (0-based) runs on lab host h(i+1); managers come first, then workers, then spare
// workers. The first manager runs `skiff cluster init`, the others `skiff cluster join`
// with the manager token, workers with the worker token, all from the CLI, one at a time.
// startLabCluster returns once every joined node is ready in `skiff node ls`; a spare
// node (option spare) is set up like the others but joins only on `c.join(node)`. One
// cluster per test file (beforeAll/afterAll): it takes a while to start. The daemons run
// the built CLI (bin/skiff.js → dist/): run `npm run build` after changing sources.
// Agents heartbeat every 1 s and managers tick raft every 40 ms (options heartbeat,
// raftTick), so a lost node or leader shows soon.
// Option bin starts the nodes from another build's bin/skiff.js; a node's `bin` is what its
// CLI and its next restartDaemon run (the upgrade test moves each node on that way).
// SKIFF_LAB_LOGS=DIR keeps every daemon's log there when the cluster is destroyed.
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ApiClient } from '../../cli/api/client.js';
import type { Node, Task } from '../../lib/index.js';
import { createLab, type Lab, type LabHost, type LabProcess, waitFor } from '../lab/index.js';
import { seedImage } from './seed-image.js';
import { busyboxTarball, type SkiffResult, socketNodes, socketTasks } from './skiff-node/index.js';

/** The skiff CLI the lab nodes run: this checkout's `bin/skiff.js` (unless told otherwise). */
export const BIN = resolve(import.meta.dirname, '../../bin/skiff.js');
/** This checkout's `bin/skiff.js` (what nodes run unless told otherwise). */
export const SKIFF_BIN = BIN;

/** The image every node has imported when `image: true`. */
export const LAB_IMAGE = 'localhost/lab-busybox:1';

export interface LabClusterOptions {
  managers: number;
  workers?: number;
  /** Worker hosts set up like the others that join only on `join(node)` (default 0). */
  spare?: number;
  /** Import LAB_IMAGE (busybox) on every node (default false). */
  image?: boolean;
  /** Agents' heartbeat period (`--dispatcher-heartbeat`; default 1s, so a lost node shows soon). */
  heartbeat?: string;
  /** Managers' raft tick (`--raft-tick`; default 40ms). */
  raftTick?: string;
  /** How long `api()` clients wait for a response's headers (default 30 s). */
  apiTimeoutMs?: number;
  /**
   * The `bin/skiff.js` every node runs at first (default: this checkout's build); an
   * upgrade test gives an earlier commit's and moves each node on with its `bin`.
   */
  bin?: string;
  /**
   * Give each host's state root a tmpfs of this size (`256m`), so that `fillState` can
   * run it out of space; default: a plain directory on the machine's disk.
   */
  stateSize?: string;
}

export interface LabClusterNode {
  host: LabHost;
  role: 'manager' | 'worker';
  /** Its address (also the API host for managers, port 2377). */
  addr: string;
  stateRoot: string;
  stateDir: string;
  runDir: string;
  env: NodeJS.ProcessEnv;
  /** The node ID, from `skiff node ls`; '' while a spare node has not joined. */
  id: string;
  /** The `bin/skiff.js` its CLI and its next `restartDaemon` run (set it to upgrade the node). */
  bin: string;
}

export interface LabCluster {
  lab: Lab;
  nodes: LabClusterNode[];
  managers: LabClusterNode[];
  workers: LabClusterNode[];
  /**
   * Runs the skiff CLI inside `on`'s network namespace against its API socket
   * (default: the first manager whose daemon is not killed).
   */
  skiff(args: string[], on?: LabClusterNode): Promise<SkiffResult>;
  /** An API client on `on`'s socket (default: the first live manager), closed by destroy. */
  api(on?: LabClusterNode): ApiClient;
  /** The nodes as the API on `on` lists them (default: the first live manager). */
  apiNodes(on?: LabClusterNode): Promise<Node[]>;
  /** The tasks of services (names or IDs) as the API on `on` lists them. */
  apiTasks(services: string[], on?: LabClusterNode): Promise<Task[]>;
  /** Runs the skiff CLI on a node without `-H` (cluster init/join/leave, daemon …). */
  skiffLocal(args: string[], on: LabClusterNode): Promise<SkiffResult>;
  /** The manager that leads now (asked through a live manager). */
  leader(): Promise<LabClusterNode>;
  /** The node of a node ID. */
  nodeOf(id: string | undefined): LabClusterNode | undefined;
  /** Joins a spare node (as a worker, through a live manager) and waits until it is ready. */
  join(node: LabClusterNode): Promise<void>;
  /** kill -9 the node's daemon only (its containers keep running). */
  killDaemon(node: LabClusterNode): Promise<void>;
  /** `skiff daemon stop` on the node (a clean stop; its containers keep running). */
  stopDaemon(node: LabClusterNode): Promise<void>;
  /** kill -9 everything of the node's host: daemon, conmons, and its containers. */
  crash(node: LabClusterNode): Promise<void>;
  /**
   * Starts the node's daemon again (`skiff daemon run`, same state, with `extraArgs`
   * such as `--force-new-cluster`), waits until it runs.
   */
  restartDaemon(node: LabClusterNode, extraArgs?: string[]): Promise<void>;
  /**
   * Fills the node's state filesystem (needs `stateSize`) until a write gets ENOSPC;
   * resolves with the function that frees it again.
   */
  fillState(node: LabClusterNode): Promise<() => void>;
  /** Whether the node's daemon process exists (after kill -9, a clean stop or an exit of its own). */
  running(node: LabClusterNode): boolean;
  /** Whether the node's daemon is believed to run (not killed by killDaemon). */
  alive(node: LabClusterNode): boolean;
  /** Stops everything it started and removes what it created. Idempotent. */
  destroy(): Promise<void>;
}

export async function startLabCluster(o: LabClusterOptions): Promise<LabCluster> {
  const workersWanted = o.workers ?? 0;
  const joinedAtStart = o.managers + workersWanted;
  // hostAccess: the test process reaches the managers' TCP API (mTLS) at their addresses.
  const lab = await createLab({ hosts: joinedAtStart + (o.spare ?? 0), hostAccess: true });
  const base = mkdtempSync(join(tmpdir(), 'skiff-labcluster-'));
  const nodes: LabClusterNode[] = [];
  const killed = new Set<LabClusterNode>();
  const restarted = new Map<LabClusterNode, LabProcess>();
  const clients = new Map<LabClusterNode, ApiClient>();
  let destroyed = false;

  const skiffLocal = async (args: string[], on: LabClusterNode): Promise<SkiffResult> => {
    // Only the network namespace is the host's: containers need the real cgroup mounts.
    const r = await on.host.exec(process.execPath, [on.bin, ...args], { env: on.env, sharedMounts: true });
    return { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
  };
  const firstLive = (): LabClusterNode => {
    const m = nodes.find((n) => n.role === 'manager' && !killed.has(n));
    if (!m) throw new Error('no manager daemon is running');
    return m;
  };
  const skiff = (args: string[], on?: LabClusterNode) => {
    const n = on ?? firstLive();
    return skiffLocal(['-H', `unix://${n.runDir}/skiff.sock`, ...args], n);
  };
  // Each read on a connection of its own, as a CLI command would: a restarted daemon is read afresh.
  const socketOf = (on?: LabClusterNode) => `${(on ?? firstLive()).runDir}/skiff.sock`;
  const nodesOf = (on?: LabClusterNode) => socketNodes(socketOf(on));
  const tasksOf = (services: string[], on?: LabClusterNode) => socketTasks(socketOf(on), services);
  const api = (on?: LabClusterNode): ApiClient => {
    const n = on ?? firstLive();
    let client = clients.get(n);
    if (!client) {
      client = new ApiClient({ host: `unix://${n.runDir}/skiff.sock`, timeoutMs: o.apiTimeoutMs ?? 30_000 });
      clients.set(n, client);
    }
    return client;
  };
  const readyNodes = async (on: LabClusterNode): Promise<Node[]> =>
    (await nodesOf(on).catch(() => [])).filter((x) => x.Status.State === 'ready');
  /** `skiff cluster join` on n through the manager `via`, from the CLI. */
  const joinThrough = async (n: LabClusterNode, via: LabClusterNode): Promise<void> => {
    const token = (await skiff(['cluster', 'join-token', n.role, '-q'], via)).stdout.trim();
    const r = await skiffLocal(
      ['cluster', 'join', '--advertise-addr', n.addr, '--token', token, `${via.addr}:2377`],
      n,
    );
    if (r.code !== 0) throw new Error(`cluster join on ${n.host.name}: ${r.stderr}\n${logTail(n)}`);
  };
  // A daemon's pid file is written once its start is done and removed while it switches
  // roles (same process): the last pid seen is still its process meanwhile.
  const lastPid = new Map<LabClusterNode, number>();
  /** The live `skiff daemon run` process of the node's state directory, found in /proc. */
  const daemonProcess = (n: LabClusterNode): number | undefined => {
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      let args: string[];
      try {
        args = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
        if (readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]?.startsWith('Z')) continue;
      } catch {
        continue; // gone meanwhile
      }
      const i = args.indexOf('--state-dir');
      if (i > 0 && args[i + 1] === n.stateDir && args.includes('daemon') && args.includes('run'))
        return Number(d);
    }
    return undefined;
  };
  const pidOf = (n: LabClusterNode): number | undefined => {
    try {
      const pid = Number(readFileSync(join(n.runDir, 'skiff.pid'), 'utf8').trim());
      if (pid > 0) lastPid.set(n, pid);
      return pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  };

  const cluster: LabCluster = {
    lab,
    nodes,
    get managers() {
      return nodes.filter((n) => n.role === 'manager');
    },
    get workers() {
      return nodes.filter((n) => n.role === 'worker');
    },
    skiff,
    api,
    apiNodes: nodesOf,
    apiTasks: tasksOf,
    skiffLocal,
    async leader() {
      const ns = await nodesOf();
      const id = ns.find((n) => n.ManagerStatus?.Leader)?.ID;
      const leader = nodes.find((n) => n.id === id);
      if (!leader) throw new Error('no leader among the nodes the API lists');
      return leader;
    },
    nodeOf: (id) => nodes.find((n) => n.id !== '' && n.id === id),
    async join(n) {
      const via = firstLive();
      await joinThrough(n, via);
      const ready = await waitFor(async () => (await readyNodes(via)).find((x) => x.Status.Addr === n.addr), {
        what: `${n.host.name} to be a ready node`,
        timeoutMs: 60_000,
      });
      n.id = ready.ID;
    },
    async crash(n) {
      killed.add(n);
      await n.host.crash();
      // The containers live outside the host's network namespace: kill them by their runtime.
      const crunRoot = join(n.runDir, 'runtime', 'crun');
      for (const id of await crunList(n)) {
        await n.host
          .exec('crun', ['--root', crunRoot, 'kill', id, 'KILL'], { sharedMounts: true })
          .catch(() => {});
      }
    },
    async killDaemon(n) {
      // A node switching roles has no pid file until its next role runs: its process then.
      const pid = pidOf(n) ?? daemonProcess(n);
      if (pid === undefined) throw new Error(`no daemon process on ${n.host.name}`);
      killed.add(n);
      process.kill(pid, 'SIGKILL');
      await waitFor(
        () => {
          // Gone, or a zombie waiting for its reaper: either way it serves nothing.
          try {
            return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true;
          } catch {
            return true;
          }
        },
        { what: `the daemon on ${n.host.name} to exit`, timeoutMs: 10_000, intervalMs: 10 },
      );
    },
    async stopDaemon(n) {
      // No longer a manager to ask while it stops.
      killed.add(n);
      const r = await skiffLocal(['daemon', 'stop'], n);
      if (r.code !== 0) throw new Error(`daemon stop on ${n.host.name}: ${r.stderr}\n${logTail(n)}`);
    },
    async restartDaemon(n, extraArgs = []) {
      const args = [
        'daemon',
        'run',
        '--advertise-addr',
        n.addr,
        '--state-dir',
        n.stateDir,
        '--run-dir',
        n.runDir,
        ...extraArgs,
      ];
      // Its output goes to the daemon log, as when the CLI starts it.
      const script = `exec "$0" "$@" >>'${join(n.stateDir, 'daemon.log')}' 2>&1`;
      const p = n.host.spawn('/bin/sh', ['-c', script, process.execPath, n.bin, ...args], {
        env: n.env,
        sharedMounts: true,
      });
      restarted.set(n, p);
      // `exec` keeps the shell's pid: the daemon's, before its pid file is written.
      if (p.pid !== undefined) lastPid.set(n, p.pid);
      await waitFor(
        () => {
          if (!p.running) throw new Error(`the daemon on ${n.host.name} exited: ${p.output().slice(-800)}`);
          return pidOf(n) === p.pid;
        },
        { what: `the daemon on ${n.host.name} to run again`, timeoutMs: 60_000 },
      );
      killed.delete(n);
    },
    async fillState(n) {
      if (!o.stateSize) throw new Error('fillState needs a cluster started with stateSize');
      const files: string[] = [];
      // What the daemon writes meanwhile can make fallocate fail: fill what is left then.
      for (let i = 0; i < 5; i++) {
        const { bavail, bsize } = statfsSync(n.stateRoot);
        if (bavail === 0) break;
        const file = join(n.stateRoot, `fill-${process.pid}-${files.length}`);
        files.push(file);
        await n.host.exec('fallocate', ['-l', String(bavail * bsize), file], { sharedMounts: true });
      }
      return () => {
        for (const f of files) rmSync(f, { force: true });
      };
    },
    running(n) {
      const pid = pidOf(n) ?? lastPid.get(n);
      if (pid === undefined) return false;
      try {
        return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z');
      } catch {
        return false;
      }
    },
    alive: (n) => !killed.has(n),
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      for (const client of clients.values()) await client.close().catch(() => {});
      // Daemons first (kill -9: nothing is left to save), then what they started.
      for (const n of nodes) {
        const pid = pidOf(n);
        if (pid !== undefined && !killed.has(n)) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
      }
      // SKIFF_LAB_LOGS=DIR keeps every daemon's log there, for a failed run.
      const keep = process.env.SKIFF_LAB_LOGS;
      if (keep) {
        mkdirSync(keep, { recursive: true });
        for (const n of nodes) {
          try {
            copyFileSync(join(n.stateDir, 'daemon.log'), join(keep, `${n.host.name}.log`));
          } catch {
            // no log: the daemon never started
          }
        }
      }
      for (const n of nodes) await n.host.crash().catch(() => {});
      for (const n of nodes) await removeContainers(n);
      await lab.destroy();
      for (const n of nodes) rmSync(n.runDir, { recursive: true, force: true });
      rmSync(base, { recursive: true, force: true });
    },
  };

  try {
    const tarball = o.image ? await busyboxTarball(mkdtempSync(join(base, 'img-')), 'lab\n') : undefined;
    for (const [i, host] of lab.hosts.entries()) {
      // A size-limited state root lives in the host's lab directory, whose mounts the
      // lab's teardown (and its sweep, should this process die) removes.
      const stateRoot = o.stateSize ? join(host.dir, 'state') : join(base, host.name);
      if (o.stateSize) {
        mkdirSync(stateRoot, { recursive: true });
        await host.run(
          'mount',
          ['-t', 'tmpfs', '-o', `size=${o.stateSize},mode=0755`, 'skiff-state', stateRoot],
          {
            sharedMounts: true,
          },
        );
      }
      // Unix socket paths are limited to 108 bytes: keep the run directory short.
      const runDir = mkdtempSync(`/run/skc-${host.name}-`);
      const { SKIFF_HOST: _ignored, ...inherited } = process.env;
      const env: NodeJS.ProcessEnv = {
        ...inherited,
        SKIFF_STATE_ROOT: stateRoot,
        SKIFF_RUN_DIR: runDir,
        SKIFF_DISPATCHER_HEARTBEAT: o.heartbeat ?? '1s',
        // A lost leader is replaced after 0.4 to 0.8 s (10 to 20 ticks).
        SKIFF_RAFT_TICK: o.raftTick ?? '40ms',
        SKIFF_LOG_LEVEL: process.env.SKIFF_LOG_LEVEL ?? 'info',
      };
      const role = i < o.managers ? 'manager' : 'worker';
      nodes.push({
        host,
        role,
        addr: host.addr,
        stateRoot,
        stateDir: join(stateRoot, 'local'),
        runDir,
        env,
        id: '',
        bin: o.bin ?? BIN,
      });
    }
    if (tarball) {
      for (const n of nodes) {
        await seedImage(n.stateDir, tarball, LAB_IMAGE);
      }
    }
    const [first, ...rest] = nodes.slice(0, joinedAtStart);
    if (!first) throw new Error('a lab cluster needs at least one manager');
    const init = await skiffLocal(['cluster', 'init', '--advertise-addr', first.addr], first);
    if (init.code !== 0) throw new Error(`cluster init on ${first.host.name}: ${init.stderr}`);
    for (const n of rest) await joinThrough(n, first);
    const ready = await waitFor(
      async () => {
        const ns = await readyNodes(first);
        // A first manager is listed ready from its init on; its daemon has finished
        // starting (agent included) once it wrote its pid file.
        const started = nodes.slice(0, joinedAtStart).every((n) => pidOf(n) !== undefined);
        return ns.length === joinedAtStart && started ? ns : undefined;
      },
      { what: `${joinedAtStart} ready nodes, their daemons started`, timeoutMs: 120_000 },
    );
    for (const n of nodes) n.id = ready.find((x) => x.Status.Addr === n.addr)?.ID ?? '';
    return cluster;
  } catch (e) {
    await cluster.destroy();
    throw e;
  }
}

/** The last lines of a node's daemon log, for failure messages. */
export function logTail(n: LabClusterNode, lines = 30): string {
  try {
    return readFileSync(join(n.stateDir, 'daemon.log'), 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no daemon log)';
  }
}

/** The IDs of the containers in a node's runtime. */
async function crunList(n: LabClusterNode): Promise<string[]> {
  const list = await n.host
    .exec('crun', ['--root', join(n.runDir, 'runtime', 'crun'), 'list', '-q'], { sharedMounts: true })
    .catch(() => undefined);
  return (list?.stdout ?? '').split('\n').filter(Boolean);
}

/** The pid of each running container of a node's runtime, by container (= task) ID. */
export async function containerPids(n: LabClusterNode): Promise<Map<string, number>> {
  const crunRoot = join(n.runDir, 'runtime', 'crun');
  const out = new Map<string, number>();
  for (const id of await crunList(n)) {
    const r = await n.host
      .exec('crun', ['--root', crunRoot, 'state', id], { sharedMounts: true, timeoutMs: 30_000 })
      .catch(() => undefined);
    try {
      const state = JSON.parse(r?.stdout ?? '') as { pid?: number; status?: string };
      if (state.status === 'running' && state.pid) out.set(id, state.pid);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Containers a killed node left: their runtime state and rootfs mounts. */
async function removeContainers(n: LabClusterNode): Promise<void> {
  const crunRoot = join(n.runDir, 'runtime', 'crun');
  for (const id of await crunList(n)) {
    await n.host
      .exec('crun', ['--root', crunRoot, 'delete', '-f', id], { sharedMounts: true })
      .catch(() => {});
  }
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(n.stateRoot) || m.startsWith(n.runDir))
    .reverse();
  for (const m of mounts) await n.host.exec('umount', ['-l', m], { sharedMounts: true }).catch(() => {});
}
