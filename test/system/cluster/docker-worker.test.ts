// The real docker CLI against a worker's own socket: a worker serves the node-local
// Engine API (containers, images) as every dockerd does. `docker run --rm` there prints
// the output and returns the exit code; the worker's /_ping carries the API version
// (without it the CLI falls back to 1.24, whose `run --rm` follows /events), and its
// /events shows this node's containers; `docker version` and `docker info` describe
// the worker as it knows itself (no cluster counts or spec: those are the managers').
import { existsSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inNetns } from '../../../lab/index.js';
import { runCommand } from '../../lab/command.js';
import {
  LAB_IMAGE,
  type LabCluster,
  type LabClusterNode,
  startLabCluster,
} from '../../support/lab-cluster.js';

const DOCKER = existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : 'docker';

describe('docker CLI on a worker', () => {
  let c: LabCluster;
  let worker: LabClusterNode;

  async function docker(args: string[], timeoutMs = 60_000) {
    const [cmd, argv] = inNetns(worker.host.netns, DOCKER, args, true);
    return runCommand(cmd, argv, {
      env: {
        PATH: process.env.PATH,
        HOME: worker.stateRoot,
        DOCKER_HOST: `unix://${worker.runDir}/skiff.sock`,
        DOCKER_CONFIG: `${worker.stateRoot}/docker-config`,
      },
      timeoutMs,
    });
  }

  beforeAll(async () => {
    c = await startLabCluster({ managers: 1, workers: 1, image: true });
    worker = c.workers[0] as LabClusterNode;
  }, 300_000);

  afterAll(async () => {
    await c?.destroy();
  }, 120_000);

  it('negotiates the current API version', async () => {
    const r = await docker(['version', '--format', '{{.Client.APIVersion}}']);
    expect(r.stdout.trim()).toBe('1.44');
  });

  it('docker version and docker info describe the worker, without a cluster it cannot see', async () => {
    const v = await docker(['version', '--format', '{{.Server.APIVersion}} {{.Server.MinAPIVersion}}']);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout.trim()).toBe('1.44 1.24');

    const r = await docker(['info', '--format', '{{json .}}']);
    expect(r.code, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout) as {
      ID: string;
      Name: string;
      NCPU: number;
      MemTotal: number;
      KernelVersion: string;
      OperatingSystem: string;
      DefaultRuntime: string;
      Driver: string;
      Swarm: {
        NodeID: string;
        NodeAddr: string;
        LocalNodeState: string;
        ControlAvailable: boolean;
        RemoteManagers: { Addr: string }[] | null;
        Nodes?: number;
        Managers?: number;
        Cluster?: unknown;
      };
    };
    expect(info.ID).toBe(worker.id);
    expect(info.Swarm).toMatchObject({
      NodeID: worker.id,
      NodeAddr: worker.addr,
      LocalNodeState: 'active',
      ControlAvailable: false,
    });
    // Only a manager knows the cluster: a worker leaves its counts and spec out.
    expect(info.Swarm.Nodes ?? 0).toBe(0);
    expect(info.Swarm.Managers ?? 0).toBe(0);
    expect(info.Swarm.Cluster ?? null).toBeNull();
    expect((info.Swarm.RemoteManagers ?? []).map((m) => m.Addr)).toContain(`${c.managers[0]!.addr}:2377`);
    // The node's own facts (the lab's hosts share the machine's kernel and CPUs).
    expect(info.KernelVersion).toBe(release());
    expect(info.NCPU).toBe(cpus().length);
    expect(info.MemTotal).toBe(totalmem());
    expect(info.OperatingSystem).toMatch(/^\S/);
    expect(info.OperatingSystem).not.toBe('skiff');
    expect(info.DefaultRuntime).toBe('crun');
    expect(info.Driver).toBe('overlay');

    const plain = await docker(['info']);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toContain('Is Manager: false');
    expect(plain.stdout).toContain(`NodeID: ${worker.id}`);
  }, 60_000);

  it('run --rm prints the output and returns the exit code', async () => {
    const r = await docker(['run', '--rm', LAB_IMAGE, 'sh', '-c', 'echo on-worker; exit 3']);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toBe('on-worker\n');
    const left = await docker(['ps', '-aq', '--filter', 'label=io.skiff.container.standalone']);
    expect(left.stdout.trim()).toBe('');
  }, 60_000);

  it('events shows this node’s containers', async () => {
    const since = String(Math.floor(Date.now() / 1000) - 1);
    const r0 = await docker(['run', '--rm', '--name', 'ev-one', LAB_IMAGE, 'true']);
    expect(r0.code, r0.stderr).toBe(0);
    const until = String(Math.floor(Date.now() / 1000) + 1);
    const r = await docker([
      'events',
      '--since',
      since,
      '--until',
      until,
      '--filter',
      'container=ev-one',
      '--format',
      '{{.Action}}',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')).toEqual(expect.arrayContaining(['create', 'start', 'die', 'destroy']));
  }, 60_000);
});
