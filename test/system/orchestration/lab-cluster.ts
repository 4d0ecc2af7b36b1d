// A skiff cluster of real `skiff daemon` processes on lab hosts, for the placement
// acceptance test: `cluster init` on the first host, `cluster join` on the others (managers
// first), spare hosts that join later, a busybox image on every host, a fast heartbeat,
// kill -9 of a host with its containers, and a teardown that removes containers, mounts
// and directories even when a test failed half-way. (test/system/cluster/helpers.ts has
// no spare hosts; the update test uses it.)
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { ApiClient } from '../../../cli/api/client.js';
import type { Node, Task } from '../../../lib/index.js';
import { createLab, type Lab, type LabHost, waitFor } from '../../lab/index.js';
import { busyboxTarball, type SkiffResult } from '../e2e/helpers.js';

export const BIN = resolve(import.meta.dirname, '../../../bin/skiff.js');
export const IMAGE = 'localhost/lab-busybox:1';

export interface ClusterHost {
  host: LabHost;
  stateRoot: string;
  runDir: string;
  env: NodeJS.ProcessEnv;
  /** The node's ID once it joined. */
  nodeId: string | undefined;
}

export interface LabCluster {
  lab: Lab;
  hosts: ClusterHost[];
  /** The manager the test talks to (h1 unless changed). */
  manager: ClusterHost;
  api(): ApiClient;
  /** Runs `skiff` on the manager host against its API socket. */
  skiff(args: string[], opts?: { input?: string }): Promise<SkiffResult>;
  /** Joins `h` (a manager if it is one of the first `managers` hosts) and waits until its node is ready. */
  join(h: ClusterHost): Promise<void>;
  /** The cluster host of a node ID. */
  hostOf(nodeId: string | undefined): ClusterHost | undefined;
  /** Kills every process of the host: daemon, conmons, and its containers. */
  crash(h: ClusterHost): Promise<void>;
  destroy(): Promise<void>;
}

const run = promisify(execFile);

export async function createLabCluster(opts: {
  hosts: number;
  /** The first hosts are managers (default 1), the others workers. */
  managers?: number;
  /** How many hosts join at once (the rest stay spare); all by default. */
  joined?: number;
  heartbeat?: string;
}): Promise<LabCluster> {
  const lab = await createLab({ hosts: opts.hosts, hostAccess: true });
  const base = mkdtempSync(join(tmpdir(), 'skiff-orch-'));
  const hosts: ClusterHost[] = [];
  let client: ApiClient | undefined;
  const env = (stateRoot: string, runDir: string): NodeJS.ProcessEnv => {
    const { SKIFF_HOST: _ignored, ...inherited } = process.env;
    return {
      ...inherited,
      SKIFF_STATE_ROOT: stateRoot,
      SKIFF_RUN_DIR: runDir,
      SKIFF_DISPATCHER_HEARTBEAT: opts.heartbeat ?? '1s',
    };
  };
  const cluster: LabCluster = {
    lab,
    hosts,
    manager: undefined as unknown as ClusterHost,
    api() {
      client ??= new ApiClient({ host: `unix://${cluster.manager.runDir}/skiff.sock` });
      return client;
    },
    async skiff(args) {
      const m = cluster.manager;
      const r = await m.host.exec(process.execPath, [BIN, '-H', `unix://${m.runDir}/skiff.sock`, ...args], {
        env: m.env,
        timeoutMs: 180_000,
      });
      return { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
    },
    async join(h) {
      const tokens = (await cluster.api().swarmInspect()).JoinTokens;
      const manager = hosts.indexOf(h) < (opts.managers ?? 1);
      const token = (manager ? tokens?.Manager : tokens?.Worker) ?? '';
      const r = await h.host.exec(
        process.execPath,
        [
          BIN,
          'cluster',
          'join',
          '--advertise-addr',
          h.host.addr,
          '--token',
          token,
          `${cluster.manager.host.addr}:2377`,
        ],
        { env: h.env, sharedMounts: true, timeoutMs: 90_000 },
      );
      if (r.code !== 0) throw new Error(`join of ${h.host.name} failed: ${r.stderr}`);
      const node = await waitFor(
        async () =>
          (await cluster.api().listNodes()).find(
            (n) => n.Status.Addr === h.host.addr && n.Status.State === 'ready',
          ),
        { what: `${h.host.name} to be a ready node`, timeoutMs: 60_000 },
      );
      h.nodeId = node.ID;
    },
    hostOf: (nodeId) => hosts.find((h) => h.nodeId !== undefined && h.nodeId === nodeId),
    async crash(h) {
      await h.host.crash();
      await killContainers(h, 'kill');
    },
    async destroy() {
      await client?.close().catch(() => {});
      for (const h of hosts) await h.host.crash().catch(() => {});
      for (const h of hosts) await killContainers(h, 'delete').catch(() => {});
      await lab.destroy();
      for (const h of hosts) await unmountUnder([h.stateRoot, h.runDir]);
      for (const h of hosts) rmSync(h.runDir, { recursive: true, force: true });
      rmSync(base, { recursive: true, force: true });
    },
  };
  try {
    const tarball = await busyboxTarball(mkdtempSync(join(base, 'img-')), 'lab\n');
    for (const host of lab.hosts) {
      const stateRoot = join(base, host.name);
      // Unix socket paths are limited to 108 bytes: keep the run directory short.
      const runDir = mkdtempSync(`/run/sko-${host.name}-`);
      const h: ClusterHost = { host, stateRoot, runDir, env: env(stateRoot, runDir), nodeId: undefined };
      hosts.push(h);
      const r = await host.exec(
        process.execPath,
        [BIN, 'image', 'import', '--root', join(stateRoot, 'local'), tarball, IMAGE],
        { env: h.env },
      );
      if (r.code !== 0) throw new Error(`image import on ${host.name}: ${r.stderr}`);
    }
    const first = hosts[0]!;
    cluster.manager = first;
    const init = await first.host.exec(
      process.execPath,
      [BIN, 'cluster', 'init', '--advertise-addr', first.host.addr],
      { env: first.env, sharedMounts: true, timeoutMs: 90_000 },
    );
    if (init.code !== 0) throw new Error(`cluster init: ${init.stderr}`);
    first.nodeId = (await cluster.api().listNodes())[0]?.ID;
    for (const h of hosts.slice(1, opts.joined ?? hosts.length)) await cluster.join(h);
    return cluster;
  } catch (e) {
    await cluster.destroy();
    throw e;
  }
}

/** The pid of each running container of a node's runtime, by container (= task) ID. */
export async function containerPids(runDir: string): Promise<Map<string, number>> {
  const root = join(runDir, 'runtime', 'crun');
  const out = new Map<string, number>();
  for (const id of (await quiet('crun', ['--root', root, 'list', '-q'])).split('\n').filter(Boolean)) {
    try {
      const state = JSON.parse(await quiet('crun', ['--root', root, 'state', id])) as {
        pid?: number;
        status?: string;
      };
      if (state.status === 'running' && state.pid) out.set(id, state.pid);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The containers of a host's runtime: `kill` sends SIGKILL, `delete` removes them. */
async function killContainers(h: ClusterHost, how: 'kill' | 'delete'): Promise<void> {
  const root = join(h.runDir, 'runtime', 'crun');
  const ids = (await quiet('crun', ['--root', root, 'list', '-q'])).split('\n').filter(Boolean);
  for (const id of ids) {
    if (how === 'kill') await quiet('crun', ['--root', root, 'kill', id, 'KILL']);
    else await quiet('crun', ['--root', root, 'delete', '-f', id]);
  }
}

async function unmountUnder(prefixes: string[]): Promise<void> {
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => prefixes.some((p) => m.startsWith(p)))
    .reverse();
  for (const m of mounts) await quiet('umount', ['-l', m]);
}

async function quiet(cmd: string, args: string[]): Promise<string> {
  try {
    return (await run(cmd, args, { timeout: 30_000 })).stdout;
  } catch {
    return '';
  }
}

/** Running tasks of a service, by node. */
export function runningByNode(tasks: readonly Task[]): Map<string, Task[]> {
  const m = new Map<string, Task[]>();
  for (const t of tasks) {
    if (t.Status.State !== 'running' || t.DesiredState !== 'running' || !t.NodeID) continue;
    const l = m.get(t.NodeID);
    if (l) l.push(t);
    else m.set(t.NodeID, [t]);
  }
  return m;
}

export type { Node, Task };
