// docker cp's path inside a container: walked in the container's root, its symlinks
// (absolute ones too) resolved there and never followed onto the host; and dockerd's
// `top` rows (host `ps` output kept to the container's pids).
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveContainerPath } from '../../../agent/containers/container-path.js';
import { parsePs } from '../../../agent/containers/index.js';

let base: string;
let root: string;
let outside: string;

beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'skiff-ctrpath-'));
  root = join(base, 'rootfs');
  outside = join(base, 'host-secret');
  mkdirSync(join(root, 'data', 'sub'), { recursive: true });
  mkdirSync(join(root, 'etc'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(root, 'etc', 'hostname'), 'ctr\n');
  writeFileSync(join(outside, 'hostname'), 'host\n');
  writeFileSync(join(root, 'data', 'sub', 'a.txt'), 'a');
  symlinkSync('/', join(root, 'data', 'toroot'));
  symlinkSync('../../..', join(root, 'data', 'up'));
  symlinkSync(outside, join(root, 'data', 'abs'));
  symlinkSync('sub', join(root, 'data', 'rel'));
  symlinkSync('loop', join(root, 'data', 'loop'));
});

afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('resolveContainerPath', () => {
  it('finds a plain path', async () => {
    expect(await resolveContainerPath(root, '/data/sub/a.txt', 'cp')).toEqual({
      parent: join(root, 'data', 'sub'),
      name: 'a.txt',
    });
  });

  it('resolves absolute and relative links inside the container root', async () => {
    expect(await resolveContainerPath(root, '/data/toroot/etc/hostname', 'cp')).toEqual({
      parent: join(root, 'etc'),
      name: 'hostname',
    });
    expect(await resolveContainerPath(root, '/data/rel/a.txt', 'cp')).toEqual({
      parent: join(root, 'data', 'sub'),
      name: 'a.txt',
    });
    // `..` stops at the container's root.
    expect(await resolveContainerPath(root, '/data/up/etc/hostname', 'cp')).toEqual({
      parent: join(root, 'etc'),
      name: 'hostname',
    });
    expect(await resolveContainerPath(root, '/../../etc/hostname', 'cp')).toEqual({
      parent: join(root, 'etc'),
      name: 'hostname',
    });
  });

  it('never reaches the host through an absolute link', async () => {
    // The link's target names a host directory: inside the container it does not exist.
    await expect(resolveContainerPath(root, '/data/abs/hostname', 'cp')).rejects.toThrow(
      /Could not find the file \/data\/abs\/hostname/,
    );
  });

  it('copies a final link as a link, and follows it with a trailing slash', async () => {
    expect(await resolveContainerPath(root, '/data/abs', 'cp')).toEqual({
      parent: join(root, 'data'),
      name: 'abs',
    });
    expect(await resolveContainerPath(root, '/data/rel/', 'cp')).toEqual({
      parent: join(root, 'data'),
      name: 'sub',
    });
    expect(await resolveContainerPath(root, '/', 'cp')).toEqual({ parent: root, name: '' });
  });

  it('refuses missing paths, link loops and relative paths', async () => {
    await expect(resolveContainerPath(root, '/nope/x', 'cp')).rejects.toMatchObject({ code: 'not_found' });
    await expect(resolveContainerPath(root, '/data/nope', 'cp')).rejects.toMatchObject({ code: 'not_found' });
    await expect(resolveContainerPath(root, '/data/loop/x', 'cp')).rejects.toThrow(/too many levels/);
    await expect(resolveContainerPath(root, 'data', 'cp')).rejects.toThrow(/must be absolute/);
  });
});

describe('parsePs', () => {
  const out = [
    'UID          PID    PPID  C STIME TTY          TIME CMD',
    'root           1       0  0 10:00 ?        00:00:01 /sbin/init splash',
    'root        4242    4240  0 10:01 ?        00:00:00 sleep 600',
    'root        4250    4242  0 10:01 pts/0    00:00:00 sh -c echo a  b',
    '',
  ].join('\n');

  it('keeps the rows of the given pids, the command with its spaces', () => {
    expect(parsePs(out, new Set([4242, 4250]))).toEqual({
      Titles: ['UID', 'PID', 'PPID', 'C', 'STIME', 'TTY', 'TIME', 'CMD'],
      Processes: [
        ['root', '4242', '4240', '0', '10:01', '?', '00:00:00', 'sleep 600'],
        ['root', '4250', '4242', '0', '10:01', 'pts/0', '00:00:00', 'sh -c echo a b'],
      ],
    });
  });

  it('refuses ps output without a PID column', () => {
    expect(() => parsePs('USER COMMAND\nroot init\n', new Set([1]))).toThrow(/PID/);
  });
});
