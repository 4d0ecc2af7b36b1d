// What must never land in the store: a blob whose bytes do not match its digest, and
// layers that try to write outside the rootfs. And a pull killed with SIGKILL halfway
// resumes where it stopped.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ImageService } from '../../../agent/image/index.js';
import { Snapshotter } from '../../../agent/snapshot/index.js';
import {
  type BuiltImage,
  buildImage,
  pushImage,
  startRegistry,
  type TestRegistry,
} from '../../fixtures/index.js';
import type { RawTarEntry } from '../../fixtures/tar-layer.js';
import { waitFor } from '../../lab/index.js';
import { mountImage } from './mount-image.js';
import { blobGets, type RegistryProxy, startProxy } from './proxy.js';

const REPO_ROOT = resolve(import.meta.dirname, '../../..');
let registry: TestRegistry;
let proxy: RegistryProxy;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  registry = await startRegistry();
  proxy = await startProxy(registry.url);
});
afterAll(async () => {
  await proxy?.stop();
  await registry?.stop();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function newStore() {
  const root = await tempDir('skiff-integrity-');
  const snapshots = new Snapshotter({ root });
  const images = new ImageService({ root, unpacker: snapshots, authFile: join(root, 'auth.json') });
  cleanups.push(() => images.close());
  return { root, images, snapshots };
}

async function push(spec: Parameters<typeof buildImage>[0], name: string): Promise<BuiltImage> {
  const img = await buildImage(spec);
  cleanups.push(() => img.remove());
  await pushImage(img, registry.host, name);
  return img;
}

/** What the store holds: blobs, partial downloads, unpacked layers, leftovers of unpacking. */
async function storeContents(root: string) {
  const list = (p: string) => readdir(join(root, p)).catch(() => [] as string[]);
  return {
    blobs: await list('content/blobs/sha256'),
    ingest: await list('content/ingest'),
    snapshots: (await list('snapshots')).filter((n) => /^[a-f0-9]{64}$/.test(n)),
    unpacking: (await list('snapshots/tmp')).length,
  };
}

describe('integrity', () => {
  it('refuses a blob whose bytes do not match its digest and stores nothing of it', async () => {
    const img = await push({ files: { '/data.bin': randomBytes(64 * 1024) } }, 't/corrupt:1');
    const layer = img.manifests[0]!.layers[1]!;
    const path = registry.blobPath(layer.digest);
    const bytes = await readFile(path);
    bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
    await writeFile(path, bytes);

    const { root, images } = await newStore();
    await expect(images.pull(`${registry.host}/t/corrupt:1`)).rejects.toThrow(
      `digest mismatch for blob ${layer.digest}`,
    );
    const held = await storeContents(root);
    expect(held.blobs).not.toContain(layer.digest.slice(7));
    expect(held.ingest).toEqual([]);
    expect(images.list()).toEqual([]);
  });

  const marker = `skiff-escape-${process.pid}-${Date.now()}`;
  const outside = join(tmpdir(), marker);
  const hostile: [string, RawTarEntry[], string][] = [
    ['a ../../x path', [{ path: `../../${marker}`, type: 'file', content: 'x' }], `../../${marker}`],
    ['an absolute path', [{ path: `${outside}/abs`, type: 'file', content: 'x' }], `${outside}/abs`],
    [
      'a write through an absolute symlink',
      [
        { path: 'evil', type: 'symlink', linkpath: outside },
        { path: 'evil/pwned', type: 'file', content: 'x' },
      ],
      'evil/pwned (through the symlink evil)',
    ],
    [
      'a write below a symlink to the root',
      [
        { path: 'a', type: 'symlink', linkpath: '/' },
        { path: `a${outside}/x`, type: 'file', content: 'x' },
      ],
      `a${outside}/x (through the symlink a)`,
    ],
    [
      'a relative symlink that climbs out',
      [{ path: 'up', type: 'symlink', linkpath: `../../../../../../../..${outside}` }],
      `up -> ../../../../../../../..${outside}`,
    ],
    [
      'a hard link to a host file',
      [{ path: 'shadow', type: 'hardlink', linkpath: '/etc/passwd' }],
      'shadow => /etc/passwd',
    ],
  ];

  it.each(hostile)('rejects a layer with %s and writes nothing anywhere', async (name, raw, shown) => {
    await mkdir(outside, { recursive: true });
    cleanups.push(() => rm(outside, { recursive: true, force: true }));
    const tag = `t/hostile-${name.replace(/[^a-z]+/g, '-')}:1`;
    const img = await push({ busybox: false, layers: [{ raw }] }, tag);
    const { root, images } = await newStore();
    await expect(images.pull(`${registry.host}/${tag}`)).rejects.toThrow(
      `layer ${img.manifests[0]!.layers[0]!.digest} contains a path that escapes the rootfs: ${shown}`,
    );
    expect(await readdir(outside)).toEqual([]);
    expect(existsSync(join(root, 'snapshots', 'tmp', marker))).toBe(false);
    expect(existsSync(join(root, 'snapshots', marker))).toBe(false);
    expect(await storeContents(root)).toEqual({ blobs: [], ingest: [], snapshots: [], unpacking: 0 });
    expect(images.list()).toEqual([]);
  });

  it('contains a symlink to / in one layer under a directory of the same name in the next', async () => {
    await mkdir(outside, { recursive: true });
    cleanups.push(() => rm(outside, { recursive: true, force: true }));
    const ref = `${registry.host}/t/hostile-split:1`;
    await push(
      {
        busybox: false,
        layers: [
          { raw: [{ path: 'a', type: 'symlink', linkpath: '/' }] },
          { raw: [{ path: `a${outside}/x`, type: 'file', content: 'x' }] },
        ],
      },
      't/hostile-split:1',
    );
    const { images, snapshots } = await newStore();
    const rec = await images.pull(ref);
    // The second layer's `a` is a directory of its own, which overlay puts over the link.
    const { rootfs } = await mountImage(snapshots, 'split', rec, images.content);
    cleanups.push(() => snapshots.remove('split'));
    expect(await readFile(join(rootfs, `a${outside}/x`), 'utf8')).toBe('x');
    expect((await lstat(join(rootfs, 'a'))).isDirectory()).toBe(true);
    expect(await readdir(outside)).toEqual([]);
  });

  it('resumes a pull killed with SIGKILL halfway, with a Range request, and the image is intact', async () => {
    const big = randomBytes(6 * 1024 * 1024);
    const img = await push({ files: { '/big.bin': big } }, 't/resume:1');
    const layer = img.manifests[0]!.layers[1]!;
    const { root, images, snapshots } = await newStore();
    const ref = `${proxy.host}/t/resume:1`;
    proxy.throttle = 2 * 1024 * 1024;
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'pull-child.ts'), root, ref],
      { cwd: REPO_ROOT, stdio: 'ignore' },
    );
    const exited = new Promise<void>((r) => child.on('exit', () => r()));
    cleanups.push(async () => {
      child.kill('SIGKILL');
      await exited;
    });
    const partial = join(root, 'content/ingest', layer.digest.slice(7));
    try {
      await waitFor(async () => (await stat(partial)).size > 1024 * 1024, {
        what: 'the child pull to download 1 MiB of the big layer',
        timeoutMs: 60_000,
      });
    } finally {
      child.kill('SIGKILL');
      proxy.throttle = 0;
    }
    await exited;
    const kept = (await stat(partial)).size;
    expect(kept).toBeLessThan(layer.size);
    expect(await images.refresh()).toEqual([]);

    const before = proxy.requests.length;
    const rec = await images.pull(ref);
    const gets = blobGets(proxy.requests.slice(before), layer.digest);
    expect(gets).toHaveLength(1);
    expect(gets[0]!.range).toMatch(/^bytes=(\d+)-$/);
    expect(Number(gets[0]!.range!.slice(6, -1))).toBeGreaterThanOrEqual(kept);
    expect(await images.content.verify(layer.digest)).toBe(true);
    const { rootfs } = await mountImage(snapshots, 'c-resume', rec, images.content);
    cleanups.push(() => snapshots.remove('c-resume'));
    expect((await readFile(join(rootfs, 'big.bin'))).equals(big)).toBe(true);
  });
});
