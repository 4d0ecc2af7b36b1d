// `skiff system df` and `skiff system prune` on a real node: df's sizes are what `du -sbx`
// counts of the directories, `docker system df` works against the node, /info counts the
// node's real containers and images, and prune removes only what no task uses (a running
// service's image and volume survive).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VolumeManager } from '../../../agent/volume/index.js';
import type { DiskUsageRow, SystemDiskUsage, SystemPruneResult } from '../../../lib/index.js';
import { runCommand, waitFor } from '../../lab/index.js';
import { importBusybox, socketApi, type TestNode, testNode } from '../../support/skiff-node/index.js';

const BIN = resolve(import.meta.dirname, '../../../bin/skiff.js');
const DOCKER = '/usr/local/bin/docker';
const IMAGE = 'localhost/df-busybox:1';
const UNUSED = 'localhost/df-unused:1';
const DANGLING = 'localhost/df-dangling:1';
const ORPHAN = 'orphanlayer0001';

let node: TestNode;
let dir: string;

async function du(path: string): Promise<number> {
  const r = await runCommand('du', ['-sbx', path], { timeoutMs: 30_000 });
  expect(r.code, r.stderr).toBe(0);
  return Number(r.stdout.split('\t')[0]);
}

async function df(): Promise<SystemDiskUsage> {
  const r = await node.skiff(['system', 'df', '-v', '--format', 'json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as SystemDiskUsage;
}

const row = (d: SystemDiskUsage, type: DiskUsageRow['Type']) => {
  const r = d.Usage.find((x) => x.Type === type);
  if (!r) throw new Error(`no ${type} row`);
  return r;
};

async function info() {
  const r = await socketApi(join(node.runDir, 'skiff.sock'), 'the node', 'GET', '/info');
  return r.json as {
    Containers: number;
    ContainersRunning: number;
    ContainersStopped: number;
    Images: number;
  };
}

async function imported(page: string, ref: string): Promise<void> {
  const sub = mkdtempSync(join(dir, 'image-'));
  const r = await importBusybox(node, sub, page, ref);
  expect(r.code, r.stderr).toBe(0);
}

beforeAll(async () => {
  node = testNode();
  dir = mkdtempSync(join(tmpdir(), 'skiff-df-'));
  await imported('in use\n', IMAGE);
  await imported('not used\n', UNUSED);
  // Imported twice under one name: the first image is left untagged (dangling).
  await imported('dangling 1\n', DANGLING);
  await imported('dangling 2\n', DANGLING);
  writeFileSync(
    join(dir, 'compose.yaml'),
    [
      'services:',
      '  web:',
      `    image: ${IMAGE}`,
      '    command: ["sleep", "3600"]',
      '    volumes: ["data:/data"]',
      'volumes:',
      '  data: {}',
      '',
    ].join('\n'),
  );
  const up = await node.skiff(['compose', '-p', 'dfp', 'up', '-d'], { cwd: dir });
  expect(up.code, up.stderr).toBe(0);
  await waitFor(async () => (await info()).ContainersRunning === 1, {
    what: "the service's container to run",
    timeoutMs: 60_000,
    intervalMs: 250,
  });
  // Something in the service's volume, and a volume no container uses.
  writeFileSync(join(node.stateDir, 'volumes', 'dfp_data', '_data', 'blob'), Buffer.alloc(300_000, 1));
  const spare = await new VolumeManager({ root: join(node.stateDir, 'volumes') }).ensure('spare');
  writeFileSync(join(spare.Mountpoint, 'blob'), Buffer.alloc(100_000, 2));
  // A writable layer a crashed agent left behind: no container record, no task.
  const orphan = join(node.stateDir, 'containers', ORPHAN);
  for (const d of ['upper', 'work', 'rootfs']) mkdirSync(join(orphan, d), { recursive: true });
  writeFileSync(join(orphan, 'snapshot.json'), JSON.stringify({ imageId: '', chainIds: [] }));
  writeFileSync(join(orphan, 'upper', 'junk'), Buffer.alloc(200_000, 3));
}, 300_000);

afterAll(async () => {
  if (node) {
    await node.skiff(['compose', '-p', 'dfp', 'down'], { cwd: dir });
    await node.destroy();
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('skiff system df', () => {
  it('counts what du counts: state, images, containers, volumes, logs', async () => {
    // The raft log and the daemon log may grow between the two looks: compare until they agree.
    await waitFor(
      async () => {
        const d = await df();
        const state = await du(join(node.stateDir, 'raft'));
        return row(d, 'State').Size === state;
      },
      { what: 'the State row to equal du of raft/', timeoutMs: 20_000, intervalMs: 500 },
    );
    const d = await df();
    const layers = (await du(join(node.stateDir, 'content'))) + (await du(join(node.stateDir, 'snapshots')));
    expect(row(d, 'Images')).toMatchObject({ Total: 4, Active: 1, Size: layers });
    expect(d.LayersSize).toBe(layers);
    expect(row(d, 'Images').Reclaimable).toBeGreaterThan(0);
    expect(row(d, 'Images').Reclaimable).toBeLessThan(layers);

    const containers = d.Containers;
    expect(containers).toHaveLength(2);
    for (const c of containers)
      expect(c.SizeRw, c.Id).toBe(await du(join(node.stateDir, 'containers', c.Id)));
    const orphan = containers.find((c) => c.Id === ORPHAN);
    const web = containers.find((c) => c.Id !== ORPHAN);
    expect(orphan).toMatchObject({ State: 'dead', Task: false });
    expect(web).toMatchObject({ State: 'running', Task: true, Image: IMAGE });
    expect(row(d, 'Containers')).toMatchObject({
      Total: 2,
      Active: 1,
      Size: (orphan?.SizeRw ?? 0) + (web?.SizeRw ?? 0),
      Reclaimable: orphan?.SizeRw,
    });
    expect(orphan?.SizeRw).toBeGreaterThanOrEqual(200_000);

    const vols = new Map(d.Volumes.map((v) => [v.Name, v]));
    const dataSize = await du(join(node.stateDir, 'volumes', 'dfp_data', '_data'));
    const spareSize = await du(join(node.stateDir, 'volumes', 'spare', '_data'));
    expect(vols.get('dfp_data')?.UsageData).toEqual({ Size: dataSize, RefCount: 1 });
    expect(vols.get('spare')?.UsageData).toEqual({ Size: spareSize, RefCount: 0 });
    expect(row(d, 'Local Volumes')).toMatchObject({
      Total: 2,
      Active: 1,
      Size: dataSize + spareSize,
      Reclaimable: spareSize,
    });

    // The running container's log and the daemon's.
    const logs = row(d, 'Logs');
    expect(logs.Total).toBe(2);
    expect(logs.Active).toBe(2);
    expect(logs.Reclaimable).toBe(0);
    expect(logs.Size).toBeGreaterThan(0);

    const table = await node.skiff(['system', 'df']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE$/m);
    expect(table.stdout).toMatch(/^Images\s+4\s+1\s+\S+\s+\S+ \(\d+%\)$/m);
    expect(table.stdout).toMatch(/^Local Volumes\s+2\s+1\s+/m);
  });

  it('/info counts the node’s containers and images', async () => {
    expect(await info()).toMatchObject({
      Containers: 1,
      ContainersRunning: 1,
      ContainersStopped: 0,
      Images: 4,
    });
  });

  it('the docker CLI’s system df reads the node', async () => {
    const env = {
      PATH: process.env.PATH,
      HOME: dir,
      DOCKER_HOST: `unix://${join(node.runDir, 'skiff.sock')}`,
      DOCKER_CONFIG: join(dir, 'docker-config'),
    };
    const plain = await runCommand(DOCKER, ['system', 'df'], { env, timeoutMs: 30_000 });
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/^Images\s+4\s+1\s+/m);
    expect(plain.stdout).toMatch(/^Containers\s+2\s+1\s+/m);
    expect(plain.stdout).toMatch(/^Local Volumes\s+2\s+1\s+/m);
    const verbose = await runCommand(DOCKER, ['system', 'df', '-v'], { env, timeoutMs: 30_000 });
    expect(verbose.code, verbose.stderr).toBe(0);
    expect(verbose.stdout).toContain('localhost/df-busybox');
    expect(verbose.stdout).toMatch(/^spare\s+0\s+104\.1kB$/m);
  });
});

describe('skiff system prune', () => {
  it('asks first, and removes nothing when the answer is no', async () => {
    const r = await runCommand(process.execPath, [BIN, 'system', 'prune', '-a'], {
      env: node.env,
      input: 'n\n',
      timeoutMs: 60_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Are you sure you want to continue? [y/N]');
    expect(r.stderr).toContain('Nothing removed.');
    expect(row(await df(), 'Images').Total).toBe(4);
  });

  it('removes what no task uses; the running service, its image and its volume stay', async () => {
    const before = await df();
    const r = await node.skiff(['system', 'prune', '-a', '--volumes', '-f', '--format', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const pruned = JSON.parse(r.stdout) as SystemPruneResult;
    expect(pruned.ContainersDeleted).toEqual([ORPHAN]);
    expect(pruned.VolumesDeleted).toEqual(['spare']);
    expect(pruned.ImagesDeleted.filter((i) => i.Deleted)).toHaveLength(3);
    expect(pruned.ImagesDeleted.filter((i) => i.Untagged).map((i) => i.Untagged)).toEqual(
      expect.arrayContaining([UNUSED, DANGLING]),
    );
    // At least the orphan's layer, the spare volume's data and the unused images' layers.
    expect(pruned.SpaceReclaimed).toBeGreaterThanOrEqual(
      row(before, 'Containers').Reclaimable + row(before, 'Local Volumes').Reclaimable,
    );

    const after = await df();
    expect(after.Images.map((i) => i.RepoTags)).toEqual([[IMAGE]]);
    expect(after.Containers.map((c) => c.State)).toEqual(['running']);
    expect(after.Volumes.map((v) => v.Name)).toEqual(['dfp_data']);
    expect(row(after, 'Images').Reclaimable).toBe(0);
    expect((await info()).ContainersRunning).toBe(1);
    const ps = await node.skiff(['compose', '-p', 'dfp', 'ps', '--format', 'json'], { cwd: dir });
    expect(ps.code, ps.stderr).toBe(0);
    expect(ps.stdout).toContain('running');
    // A second prune finds nothing.
    const again = await node.skiff(['system', 'prune', '-f']);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.trim()).toBe('Total reclaimed space: 0B');
  });
});
