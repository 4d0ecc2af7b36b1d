import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileTarget, mountToOci, resolveInRoot, VolumeManager } from '../../../agent/volume/index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skiff-vol-unit-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('VolumeManager', () => {
  it('creates on first use, lists, inspects, refuses removal in use, prunes unused', async () => {
    const vm = new VolumeManager({ root: join(dir, 'volumes') });
    expect(await vm.list()).toEqual([]);
    const a = await vm.ensure('data', { labels: { app: 'shop' } });
    expect(a).toMatchObject({
      Name: 'data',
      Driver: 'local',
      Labels: { app: 'shop' },
      created: true,
      UsedBy: [],
    });
    expect((await vm.ensure('data')).created).toBe(false);
    await vm.ensure('other');
    await vm.acquire('data', 'c1');
    expect((await vm.inspect('data')).UsedBy).toEqual(['c1']);
    await expect(vm.remove('data')).rejects.toMatchObject({ code: 'conflict' });
    expect(await vm.prune()).toEqual(['other']);
    await vm.releaseAll('c1');
    await vm.remove('data');
    expect(await vm.list()).toEqual([]);
  });

  it('rejects bad names and drivers and changes nothing', async () => {
    const vm = new VolumeManager({ root: join(dir, 'volumes') });
    await expect(vm.ensure('../x')).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(vm.ensure('a/b')).rejects.toThrow(/not a valid volume name/);
    await expect(vm.ensure('ok', { driver: 'nfs' })).rejects.toMatchObject({ code: 'unsupported' });
    await expect(vm.inspect('missing')).rejects.toMatchObject({ code: 'not_found' });
    expect(await vm.list()).toEqual([]);
  });
});

describe('mountToOci', () => {
  it('turns binds, volumes and tmpfs into OCI mounts', () => {
    expect(mountToOci({ Type: 'bind', Source: '/srv/x/', Target: '/x/', ReadOnly: true })).toEqual({
      destination: '/x',
      type: 'bind',
      source: '/srv/x',
      options: ['rbind', 'rprivate', 'ro'],
    });
    expect(
      mountToOci({
        Type: 'bind',
        Source: '/s',
        Target: '/t',
        BindOptions: { Propagation: 'rshared', NonRecursive: true },
      }).options,
    ).toEqual(['bind', 'rshared']);
    expect(
      mountToOci(
        { Type: 'volume', Source: 'v', Target: '/v', VolumeOptions: { Subpath: 'sub/dir' } },
        '/vol/_data',
      ),
    ).toEqual({
      destination: '/v',
      type: 'bind',
      source: '/vol/_data/sub/dir',
      options: ['rbind', 'rprivate'],
    });
    expect(
      mountToOci({ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 1024, Mode: 0o700 } }),
    ).toEqual({
      destination: '/t',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'nodev', 'size=1024', 'mode=0700'],
    });
  });

  it('refuses what cannot be mounted', () => {
    expect(() => mountToOci({ Type: 'bind', Source: 'rel', Target: '/t' })).toThrow(
      /not an absolute host path/,
    );
    expect(() => mountToOci({ Type: 'tmpfs', Target: 'rel' })).toThrow(/not an absolute path/);
    expect(() => mountToOci({ Type: 'tmpfs', Target: '/' })).toThrow(/cannot mount over/);
    expect(() => mountToOci({ Type: 'npipe', Target: '/p' })).toThrow(/not supported/);
    expect(() =>
      mountToOci({ Type: 'volume', Source: 'v', Target: '/v', VolumeOptions: { Subpath: '../up' } }, '/d'),
    ).toThrow(/leaves the volume/);
  });

  it('places secrets under /run/secrets and configs at / unless absolute', () => {
    const f = { data: new Uint8Array(), uid: 0, gid: 0, mode: 0o444 };
    expect(fileTarget({ ...f, kind: 'secret', target: 'db' })).toBe('/run/secrets/db');
    expect(fileTarget({ ...f, kind: 'config', target: 'app.conf' })).toBe('/app.conf');
    expect(fileTarget({ ...f, kind: 'secret', target: '/etc/key' })).toBe('/etc/key');
  });
});

describe('resolveInRoot', () => {
  it('follows symlinks without leaving the root', async () => {
    const root = join(dir, 'root');
    await mkdir(join(root, 'etc'), { recursive: true });
    await writeFile(join(root, 'etc', 'passwd'), '');
    await symlink('/etc', join(root, 'abs'));
    await symlink('../../../../..', join(root, 'up'));
    await symlink('/', join(root, 'etc', 'rootlink'));
    expect(await resolveInRoot(root, '/abs/passwd')).toBe(join(root, 'etc/passwd'));
    expect(await resolveInRoot(root, '/up/etc/passwd')).toBe(join(root, 'etc/passwd'));
    expect(await resolveInRoot(root, '/etc/rootlink/../../x')).toBe(join(root, 'x'));
    expect(await resolveInRoot(root, '/missing/a/../b')).toBe(join(root, 'missing/b'));
  });
});
