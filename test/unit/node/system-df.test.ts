// `skiff system df`'s rows from a node's inventory, Docker's sizes, the prune report, and
// diskUsage counting as `du -sbx` does.
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ContainerUsage, NodeDiskUsage } from '../../../agent/index.js';
import { pruneReport } from '../../../cli/commands/system.js';
import { humanSize } from '../../../cli/output.js';
import { diskUsage } from '../../../disk/index.js';
import { usageRows } from '../../../node/api/index.js';

const container = (over: Partial<ContainerUsage>): ContainerUsage => ({
  id: 'c',
  name: 'c',
  imageId: 'sha256:a',
  state: 'running',
  createdAt: new Date(0),
  labels: {},
  sizeRw: 10,
  logSize: 5,
  logFiles: 1,
  task: true,
  ...over,
});

describe('usageRows', () => {
  it('counts active and reclaimable as prune sees them', () => {
    const u = {
      layersSize: 1000,
      imagesReclaimable: 600,
      images: [
        { record: { id: 'sha256:a' }, size: 400, sharedSize: 0, containers: 2 },
        { record: { id: 'sha256:b' }, size: 600, sharedSize: 0, containers: 0 },
      ],
      containers: [
        container({ id: 'run' }),
        // A task's stopped container stays (prune leaves it); one no task owns goes.
        container({ id: 'done', state: 'exited', sizeRw: 20, logSize: 7 }),
        container({ id: 'orphan', state: 'exited', task: false, sizeRw: 30, logSize: 9, logFiles: 2 }),
      ],
      volumes: [
        { info: { Name: 'used', UsedBy: ['run'] }, size: 100 },
        { info: { Name: 'spare', UsedBy: [] }, size: 40 },
      ],
    } as unknown as NodeDiskUsage;
    expect(usageRows(u, { state: 2048, daemonLog: 300 })).toEqual([
      { Type: 'State', Total: 1, Active: 1, Size: 2048, Reclaimable: 0 },
      { Type: 'Images', Total: 2, Active: 1, Size: 1000, Reclaimable: 600 },
      { Type: 'Containers', Total: 3, Active: 1, Size: 60, Reclaimable: 30 },
      { Type: 'Local Volumes', Total: 2, Active: 1, Size: 140, Reclaimable: 40 },
      { Type: 'Logs', Total: 5, Active: 2, Size: 321, Reclaimable: 9 },
    ]);
  });

  it('a worker keeps no raft state', () => {
    const u = { layersSize: 0, imagesReclaimable: 0, images: [], containers: [], volumes: [] };
    expect(usageRows(u, { state: 0, daemonLog: 0 })[0]).toEqual({
      Type: 'State',
      Total: 0,
      Active: 0,
      Size: 0,
      Reclaimable: 0,
    });
  });
});

describe('humanSize and the prune report', () => {
  it('prints sizes as docker does', () => {
    expect(humanSize(0)).toBe('0B');
    expect(humanSize(999)).toBe('999B');
    expect(humanSize(104_096)).toBe('104.1kB');
    expect(humanSize(3_039_000)).toBe('3.039MB');
    expect(humanSize(12_160_000_000)).toBe('12.16GB');
  });

  it('lists what went, section by section, then the space', () => {
    expect(
      pruneReport({
        ContainersDeleted: ['abc'],
        NetworksDeleted: [],
        ImagesDeleted: [{ Untagged: 'localhost/x:1' }, { Deleted: 'sha256:1' }],
        VolumesDeleted: ['spare'],
        SpaceReclaimed: 1500,
      }),
    ).toBe(
      'Deleted Containers:\nabc\n\nDeleted Images:\nuntagged: localhost/x:1\ndeleted: sha256:1\n\n' +
        'Deleted Volumes:\nspare\n\nTotal reclaimed space: 1.5kB\n',
    );
  });
});

describe('diskUsage', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('counts as du -sbx: every entry, a hard link once, a symlink as itself', async () => {
    dir = mkdtempSync(join(tmpdir(), 'skiff-du-'));
    mkdirSync(join(dir, 'a', 'b'), { recursive: true });
    writeFileSync(join(dir, 'a', 'f'), Buffer.alloc(12_345));
    linkSync(join(dir, 'a', 'f'), join(dir, 'a', 'b', 'g'));
    symlinkSync('f', join(dir, 'a', 's'));
    const du = Number(execFileSync('du', ['-sbx', dir], { encoding: 'utf8' }).split('\t')[0]);
    expect(await diskUsage(dir)).toBe(du);
  });

  it('is 0 for what is not there', async () => {
    expect(await diskUsage('/nonexistent/skiff-du')).toBe(0);
  });
});
