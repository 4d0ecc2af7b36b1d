import { Readable } from 'node:stream';
import { Header } from 'tar';
import { describe, expect, it } from 'vitest';
import { readTar, type TarEntry } from '../../../agent/snapshot/index.js';
import { encodeTar, FIXED_MTIME, type RawTarEntry } from '../../fixtures/index.js';

async function read(tar: Buffer, chunk = 7): Promise<{ entry: TarEntry; body: string }[]> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < tar.length; i += chunk) chunks.push(tar.subarray(i, i + chunk));
  const out: { entry: TarEntry; body: string }[] = [];
  let body: Buffer[] = [];
  await readTar(Readable.from(chunks), {
    entry: (entry) => {
      out.push({ entry, body: '' });
      body = [];
    },
    data: (c) => {
      body.push(Buffer.from(c));
    },
    end: () => {
      out.at(-1)!.body = Buffer.concat(body).toString();
    },
  });
  return out;
}

describe('readTar', () => {
  const entries: RawTarEntry[] = [
    { path: 'dir/', type: 'dir', mode: 0o750, uid: 5, gid: 6 },
    { path: 'dir/file', type: 'file', content: 'hello world', mode: 0o4755 },
    { path: 'dir/link', type: 'symlink', linkpath: '/bin/busybox' },
    { path: 'dir/hard', type: 'hardlink', linkpath: 'dir/file' },
    { path: 'dev/null', type: 'chardev', devmajor: 1, devminor: 3, mode: 0o666 },
    { path: 'fifo', type: 'fifo' },
    { path: `long/${'x'.repeat(150)}/${'y'.repeat(120)}`, type: 'file', content: 'deep' },
  ];

  it('reads every entry type with its metadata, across odd chunk boundaries', async () => {
    const got = await read(encodeTar(entries));
    expect(got.map((g) => [g.entry.path, g.entry.type])).toEqual(entries.map((e) => [e.path, e.type]));
    expect(got[0]!.entry).toMatchObject({ mode: 0o750, uid: 5, gid: 6, mtime: FIXED_MTIME.getTime() / 1000 });
    expect(got[1]).toMatchObject({ body: 'hello world', entry: { mode: 0o4755, size: 11 } });
    expect(got[2]!.entry.linkpath).toBe('/bin/busybox');
    expect(got[3]!.entry.linkpath).toBe('dir/file');
    expect(got[4]!.entry).toMatchObject({ devmajor: 1, devminor: 3 });
    expect(got[6]!.body).toBe('deep');
  });

  it('reads SCHILY xattrs from PAX headers', async () => {
    const header = Buffer.alloc(512);
    new Header({ path: 'f', mode: 0o644, size: 2, type: 'File', mtime: FIXED_MTIME, uid: 0, gid: 0 }).encode(
      header,
    );
    // Rebuild the PAX body with an xattr record (npm tar does not write them).
    const record = (k: string, v: string) => {
      const base = ` ${k}=${v}\n`;
      let len = base.length + 1;
      while (`${len}${base}`.length !== len) len++;
      return `${len}${base}`;
    };
    const body = Buffer.from(record('SCHILY.xattr.user.test', 'value') + record('path', 'renamed'));
    const paxHeader = Buffer.alloc(512);
    new Header({
      path: 'PaxHeader/f',
      mode: 0o644,
      size: body.length,
      type: 'ExtendedHeader',
      mtime: FIXED_MTIME,
    }).encode(paxHeader);
    const tar = Buffer.concat([
      paxHeader,
      body,
      Buffer.alloc((512 - (body.length % 512)) % 512),
      header,
      Buffer.from('hi'),
      Buffer.alloc(510),
      Buffer.alloc(1024),
    ]);
    const [only] = await read(tar, 100);
    expect(only!.entry.path).toBe('renamed');
    expect(only!.entry.xattrs['user.test']?.toString()).toBe('value');
    expect(only!.body).toBe('hi');
  });

  it('refuses truncated archives and bad checksums', async () => {
    const tar = encodeTar(entries);
    await expect(read(tar.subarray(0, 700))).rejects.toThrow(/truncated/);
    const bad = Buffer.from(tar);
    bad[10] = bad[10]! ^ 0xff;
    await expect(read(bad)).rejects.toThrow(/checksum/);
  });
});
