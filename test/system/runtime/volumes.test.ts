// Mounts in containers: named volumes (kept after the container, refused removal
// while used, filled from the image), bind mounts, tmpfs, secrets on a tmpfs only
// and configs as files.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBusyboxRootfs } from './busybox-dir.js';
import { createHarness, type Harness, lines, mountsUnder } from './harness.js';

let h: Harness;
let hostDir: string;
beforeAll(async () => {
  h = await createHarness();
  hostDir = await mkdtemp(join(tmpdir(), 'skiff-bind-'));
});
afterAll(async () => {
  await h?.cleanup();
  if (hostDir) await rm(hostDir, { recursive: true, force: true });
});

describe('named volumes', () => {
  it("keeps a volume's data after its container is removed, and refuses removal while in use", async () => {
    const first = await h.run({
      Command: ['sh', '-c', 'echo persisted >/data/file'],
      Mounts: [{ Type: 'volume', Source: 'keep-me', Target: '/data' }],
    });
    expect(first.info.exitCode).toBe(0);
    expect((await h.rt.volumes.inspect('keep-me')).UsedBy).toEqual([first.info.id]);
    await expect(h.rt.volumes.remove('keep-me')).rejects.toThrow(/in use by container/);
    await h.rt.delete(first.info.id);
    expect((await h.rt.volumes.inspect('keep-me')).UsedBy).toEqual([]);

    const second = await h.run({
      Command: ['cat', '/data/file'],
      Mounts: [{ Type: 'volume', Source: 'keep-me', Target: '/data', ReadOnly: true }],
    });
    expect(lines(second.logs)).toEqual(['persisted']);
    await h.rt.delete(second.info.id);
    expect(await h.rt.volumes.prune()).toContain('keep-me');
    await expect(h.rt.volumes.inspect('keep-me')).rejects.toThrow(/no such volume/);
  });

  it('fills a new volume from the image content at its target', async () => {
    const rootfs = await makeBusyboxRootfs([{ path: 'app/seed.txt', content: 'from the image\n' }]);
    try {
      const { logs, info } = await h.run(
        { Command: ['cat', '/app/seed.txt'], Mounts: [{ Type: 'volume', Source: 'seeded', Target: '/app' }] },
        { rootfs },
      );
      expect(lines(logs)).toEqual(['from the image']);
      await h.rt.delete(info.id);
      const vol = await h.rt.volumes.inspect('seeded');
      expect(await readFile(join(vol.Mountpoint, 'seed.txt'), 'utf8')).toBe('from the image\n');
      await h.rt.volumes.remove('seeded');
    } finally {
      await rm(rootfs, { recursive: true, force: true });
    }
  });

  it('rejects a bad volume name and changes nothing', async () => {
    await expect(
      h.create({ Command: ['true'], Mounts: [{ Type: 'volume', Source: '../escape', Target: '/data' }] }),
    ).rejects.toThrow(/not a valid volume name/);
    expect((await h.rt.volumes.list()).map((v) => v.Name)).not.toContain('../escape');
  });
});

describe('volume subpaths', () => {
  it('mounts a subpath inside the volume, and refuses one a container linked out of it', async () => {
    await writeFile(join(hostDir, 'host-only.txt'), 'host secret\n');
    // A container with the volume plants links: out to the host, up past the volume's
    // root, and one that stays inside.
    const plant = await h.run({
      Command: [
        'sh',
        '-c',
        [
          'mkdir -p /data/inner && echo inside >/data/inner/f',
          `ln -s ${hostDir} /data/abs`,
          'ln -s ../../../../../../../../.. /data/rel',
          'ln -s / /data/root',
          'ln -s inner /data/link-in',
          'echo planted',
        ].join('; '),
      ],
      Mounts: [{ Type: 'volume', Source: 'sub-vol', Target: '/data' }],
    });
    expect(lines(plant.logs)).toEqual(['planted']);
    await h.rt.delete(plant.info.id);

    const read = (subpath: string) =>
      h.run({
        Command: [
          'sh',
          '-c',
          'cat /sub/f /sub/host-only.txt 2>/dev/null; ls /sub/proc/1 >/dev/null 2>&1 && echo host-root',
        ],
        Mounts: [{ Type: 'volume', Source: 'sub-vol', Target: '/sub', VolumeOptions: { Subpath: subpath } }],
      });
    for (const out of ['abs', 'rel', 'root', 'abs/', 'link-in/../abs']) {
      await expect(read(out), out).rejects.toThrow(/resolves outside the volume/);
    }
    await expect(read('missing')).rejects.toThrow(/cannot be opened in the volume/);
    // Nothing stays mounted for the refused containers.
    expect(await mountsUnder(h.runRoot)).toEqual([]);

    for (const inside of ['inner', 'link-in']) {
      const ok = await read(inside);
      expect(lines(ok.logs), inside).toEqual(['inside']);
      await h.rt.delete(ok.info.id);
    }
    expect(await mountsUnder(h.runRoot)).toEqual([]);
    await h.rt.volumes.remove('sub-vol');
  });
});

describe('bind and tmpfs mounts', () => {
  it('binds a host directory read-write or read-only', async () => {
    await writeFile(join(hostDir, 'in.txt'), 'host data\n');
    const rw = await h.run({
      Command: ['sh', '-c', 'cat /host/in.txt; echo from-container >/host/out.txt'],
      Mounts: [{ Type: 'bind', Source: hostDir, Target: '/host' }],
    });
    expect(lines(rw.logs)).toEqual(['host data']);
    expect(await readFile(join(hostDir, 'out.txt'), 'utf8')).toBe('from-container\n');
    const ro = await h.run({
      Command: ['sh', '-c', 'echo x >/host/out.txt 2>/dev/null && echo writable || echo read-only'],
      Mounts: [
        {
          Type: 'bind',
          Source: hostDir,
          Target: '/host',
          ReadOnly: true,
          BindOptions: { Propagation: 'rslave' },
        },
      ],
    });
    expect(lines(ro.logs, 'stdout')).toEqual(['read-only']);
    await expect(
      h.create({
        Command: ['true'],
        Mounts: [{ Type: 'bind', Source: join(hostDir, 'missing'), Target: '/x' }],
      }),
    ).rejects.toThrow(/source path .* does not exist/);
  });

  it('mounts a tmpfs with its size and mode', async () => {
    const { logs } = await h.run({
      Command: [
        'sh',
        '-c',
        'stat -c %a /t; df -k /t | tail -1 | awk "{print \\$2}"; grep " /t " /proc/mounts | cut -d" " -f3',
      ],
      Mounts: [{ Type: 'tmpfs', Target: '/t', TmpfsOptions: { SizeBytes: 4 * 1024 * 1024, Mode: 0o1770 } }],
    });
    expect(lines(logs)).toEqual(['1770', '4096', 'tmpfs']);
  });
});

describe('secrets and configs', () => {
  it('puts a secret at its target with owner and mode, on a tmpfs, never in the rootfs or on disk', async () => {
    const rootfs = await makeBusyboxRootfs();
    const secret = `s3cret-${Date.now()}-value`;
    try {
      const c = await h.create(
        { Command: ['sleep', '60'] },
        {
          rootfs,
          files: [
            {
              kind: 'secret',
              target: 'db_password',
              data: Buffer.from(secret),
              uid: 1000,
              gid: 1000,
              mode: 0o440,
            },
            { kind: 'secret', target: '/etc/app/key', data: Buffer.from('k'), uid: 0, gid: 0, mode: 0o400 },
            {
              kind: 'config',
              target: '/etc/app/app.conf',
              data: Buffer.from('level=debug\n'),
              uid: 0,
              gid: 0,
              mode: 0o444,
            },
          ],
        },
      );
      await h.rt.start(c.id);
      const r = await h.rt.exec(c.id, [
        'sh',
        '-c',
        'cat /run/secrets/db_password; echo; stat -c "%a %u %g" /run/secrets/db_password /etc/app/key; cat /etc/app/app.conf; grep /run/secrets/db_password /proc/mounts | cut -d" " -f3',
      ]);
      expect(r.stdout.split('\n')).toEqual([secret, '440 1000 1000', '400 0 0', 'level=debug', 'tmpfs', '']);
      // Not in the writable layer: the mount point file there is empty.
      expect((await stat(join(rootfs, 'run/secrets/db_password'))).size).toBe(0);
      // Nowhere on disk under the agent's directories or the rootfs, except on the tmpfs.
      const tmpfs = (await mountsUnder(h.base)).filter((m) => m.endsWith('/secrets'));
      expect(tmpfs).toEqual([join(h.runRoot, c.id, 'secrets')]);
      const found = grepFiles(secret, [h.base, rootfs]).filter((f) => !f.startsWith(`${tmpfs[0]}/`));
      expect(found).toEqual([]);
      await h.rt.delete(c.id, { force: true });
      expect(grepFiles(secret, [h.base, rootfs])).toEqual([]);
      expect(await mountsUnder(h.base)).toEqual([]);
    } finally {
      await rm(rootfs, { recursive: true, force: true });
    }
  });

  it('refuses a secret with a bad mode and leaves nothing behind', async () => {
    await mkdir(h.runRoot, { recursive: true });
    await expect(
      h.create(
        { Command: ['true'] },
        {
          id: 'bad-secret',
          files: [{ kind: 'secret', target: 's', data: Buffer.from('x'), uid: 0, gid: 0, mode: 0o17777 }],
        },
      ),
    ).rejects.toThrow(/is not a file mode/);
    expect(await mountsUnder(join(h.runRoot, 'bad-secret'))).toEqual([]);
  });
});

/** Files under `dirs` whose content holds `needle` (grep -r, not following symlinks). */
function grepFiles(needle: string, dirs: string[]): string[] {
  try {
    return execFileSync('grep', ['-rlF', '--', needle, ...dirs], { encoding: 'utf8' })
      .split('\n')
      .filter((l) => l !== '');
  } catch {
    return []; // grep exits 1 when nothing matched
  }
}
