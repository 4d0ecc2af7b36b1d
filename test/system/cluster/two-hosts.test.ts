// A cluster across two lab hosts, with the real `skiff daemon`: a manager on h1, a
// worker joined with the worker token on h2 (mTLS, certificate from the cluster CA).
// A replicated service spreads over both hosts and runs real containers; removing it
// removes them on both.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLab, type Lab, type LabHost, waitFor } from '../../lab/index.js';
import { seedImage } from '../../support/seed-image.js';
import {
  busyboxTarball,
  type SkiffResult,
  socketNodes,
  socketTasks,
} from '../../support/skiff-node/index.js';

const BIN = resolve(import.meta.dirname, '../../../bin/skiff.js');

/** The command line of every process of this machine, arguments joined by spaces. */
function commandLines(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      out.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' '));
    } catch {} // gone meanwhile
  }
  return out;
}

interface HostNode {
  host: LabHost;
  stateRoot: string;
  runDir: string;
  env: NodeJS.ProcessEnv;
}

describe('a cluster on two lab hosts', () => {
  let lab: Lab;
  let base: string;
  const nodes: HostNode[] = [];
  let manager: HostNode;
  let worker: HostNode;

  /** Runs `skiff` in the test's own namespaces, against the manager's unix socket. */
  const skiff = async (args: string[]): Promise<SkiffResult> => {
    const r = await manager.host.exec(
      process.execPath,
      [BIN, '-H', `unix://${manager.runDir}/skiff.sock`, ...args],
      {
        env: manager.env,
      },
    );
    return { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
  };
  /** `skiff cluster join` on the worker host (only the network namespace is the host's). */
  const joinWorker = (token: string) =>
    worker.host.exec(
      process.execPath,
      [
        BIN,
        'cluster',
        'join',
        '--advertise-addr',
        worker.host.addr,
        '--token',
        token,
        `${manager.host.addr}:2377`,
      ],
      { env: worker.env, sharedMounts: true },
    );
  const socket = () => `${manager.runDir}/skiff.sock`;

  beforeAll(async () => {
    lab = await createLab({ hosts: 2 });
    base = mkdtempSync(join(tmpdir(), 'skiff-cluster-'));
    const tarball = await busyboxTarball(mkdtempSync(join(base, 'img-')), 'cluster\n');
    for (const host of lab.hosts) {
      const stateRoot = join(base, host.name);
      const runDir = mkdtempSync(`/run/skc-${host.name}-`);
      const env = { ...process.env, SKIFF_STATE_ROOT: stateRoot, SKIFF_RUN_DIR: runDir };
      const n: HostNode = { host, stateRoot, runDir, env };
      nodes.push(n);
      await seedImage(join(stateRoot, 'local'), tarball, 'localhost/lab-busybox:1');
    }
    [manager, worker] = nodes as [HostNode, HostNode];
  }, 120_000);

  afterAll(async () => {
    await skiff(['service', 'rm', 'web']).catch(() => {});
    for (const n of nodes) await n.host.crash().catch(() => {});
    await lab?.destroy();
    for (const n of nodes) rmSync(n.runDir, { recursive: true, force: true });
    rmSync(base, { recursive: true, force: true });
  });

  it('joins a worker with the worker token and spreads a service over both hosts', async () => {
    // Only the network namespace is the host's: containers need the real cgroup mounts.
    const init = await manager.host.exec(
      process.execPath,
      [BIN, 'cluster', 'init', '--advertise-addr', manager.host.addr],
      { env: manager.env, sharedMounts: true },
    );
    expect(init.code, init.stderr).toBe(0);
    expect(init.stdout).toContain('skiff cluster join --advertise-addr <its address> --token SWMTKN-1-');
    const token = (await skiff(['cluster', 'join-token', 'worker', '-q'])).stdout.trim();
    expect(token).toMatch(/^SWMTKN-1-/);

    const badJoin = await joinWorker(`${token.slice(0, -3)}xyz`);
    expect(badJoin.code).not.toBe(0);
    expect(badJoin.stderr).toMatch(/did not start/);

    // Anyone on the host may read a command line: the node started by the join never carries
    // the token there (looked at throughout the join and after it), only `cluster join` itself
    // does when the user typed it there (`--token -` reads it from stdin instead).
    const seen = new Set<string>();
    const look = () => {
      for (const line of commandLines()) {
        // This test's processes only: other tests on the machine run clusters of their own.
        if (line.includes(base) && line.includes('SWMTKN') && !/ cluster join /.test(line)) seen.add(line);
      }
    };
    const watching = setInterval(look, 20);
    const joined = await joinWorker(token).finally(() => clearInterval(watching));
    expect(joined.code, joined.stderr).toBe(0);
    look();
    expect(commandLines().some((l) => l.includes(' daemon run ') && l.includes(worker.host.addr))).toBe(true);
    expect([...seen]).toEqual([]);
    const ready = await waitFor(
      async () => {
        const ns = await socketNodes(socket());
        return ns.filter((n) => n.Status.State === 'ready').length === 2 ? ns : undefined;
      },
      { what: 'two ready nodes', timeoutMs: 60_000 },
    );
    expect(ready.map((n) => n.Spec.Role).sort()).toEqual(['manager', 'worker']);
    const workerNode = ready.find((n) => n.Spec.Role === 'worker')!;
    expect(workerNode.Status.Addr).toBe(worker.host.addr);

    const created = await skiff([
      'service',
      'create',
      '--name',
      'web',
      '--replicas',
      '4',
      '--timeout',
      '90s',
      'localhost/lab-busybox:1',
      'sleep',
      '3600',
    ]);
    expect(created.code, created.stderr).toBe(0);
    const tasks = (await socketTasks(socket(), ['web'])).filter((t) => t.Status.State === 'running');
    expect(tasks).toHaveLength(4);
    expect(new Set(tasks.map((t) => t.NodeID)).size).toBe(2);

    expect((await skiff(['service', 'rm', 'web'])).code).toBe(0);
    await waitFor(
      async () => {
        const left = await Promise.all(nodes.map((n) => n.host.exec('pgrep', ['-f', `conmon.*${n.runDir}`])));
        return left.every((r) => r.stdout.trim() === '');
      },
      { what: 'the containers removed on both hosts', timeoutMs: 60_000 },
    );
  }, 240_000);
});
