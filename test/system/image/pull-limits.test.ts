// What a pull may bring onto the node: a gzip bomb, a layer of too many files, layers that
// add up past the image limit, an oversized config blob and a pull that would fill the disk
// are refused with a clear error, and leave nothing in the content store or the snapshots.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PULL_LIMITS, ImageService, type PullLimits } from '../../../agent/image/index.js';
import { Snapshotter } from '../../../agent/snapshot/index.js';
import {
  type BuildImageOptions,
  buildImage,
  pushImage,
  startRegistry,
  type TestRegistry,
} from '../../fixtures/index.js';

const MiB = 1024 * 1024;
let registry: TestRegistry;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  registry = await startRegistry();
});
afterAll(async () => {
  await registry?.stop();
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function push(spec: BuildImageOptions, name: string): Promise<string> {
  const img = await buildImage(spec);
  cleanups.push(() => img.remove());
  await pushImage(img, registry.host, name);
  return `${registry.host}/${name}`;
}

/** An image service and snapshotter on `root` (a new temp dir by default) with these limits. */
async function newStore(limits: Partial<PullLimits>, root?: string) {
  const dir = root ?? (await mkdtemp(join(tmpdir(), 'skiff-limits-')));
  if (!root) cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const all = { ...DEFAULT_PULL_LIMITS, ...limits };
  const snapshots = new Snapshotter({ root: dir, limits: all });
  const images = new ImageService({
    root: dir,
    unpacker: snapshots,
    authFile: join(dir, 'auth.json'),
    limits: all,
  });
  cleanups.push(() => images.close());
  return { root: dir, images };
}

/** Blobs, partial downloads, unpacked layers and unpacking leftovers in a store. */
async function held(root: string) {
  const list = (p: string) => readdir(join(root, p)).catch(() => [] as string[]);
  return {
    blobs: (await list('content/blobs/sha256')).length,
    ingest: (await list('content/ingest')).length,
    snapshots: (await list('snapshots')).filter((n) => /^[a-f0-9]{64}$/.test(n)).length,
    unpacking: (await list('snapshots/tmp')).length,
  };
}
const EMPTY = { blobs: 0, ingest: 0, snapshots: 0, unpacking: 0 };

describe('pull limits', () => {
  it('refuses a gzip bomb (100 MiB of zeros in a layer of a few hundred KiB) over the layer limit', async () => {
    const ref = await push({ busybox: false, files: { '/bomb': Buffer.alloc(100 * MiB) } }, 'lim/bomb:1');
    const { root, images } = await newStore({ layerBytes: 16 * MiB });
    await expect(images.pull(ref)).rejects.toThrow(
      /unpacks to more than 16777216 bytes, the layer size limit/,
    );
    expect(await held(root)).toEqual(EMPTY);
    expect(images.list()).toEqual([]);
  });

  it('refuses layers that add up past the image limit', async () => {
    const layer = (n: number) => ({
      entries: [{ type: 'file' as const, path: `/f${n}`, content: Buffer.alloc(6 * MiB, n) }],
    });
    const ref = await push({ busybox: false, layers: [layer(1), layer(2), layer(3)] }, 'lim/image:1');
    const { root, images } = await newStore({ layerBytes: 8 * MiB, imageBytes: 16 * MiB });
    await expect(images.pull(ref)).rejects.toThrow(
      /image unpacks to more than 16\.0 MiB .*the image size limit/,
    );
    expect(await held(root)).toEqual(EMPTY);
  });

  it('refuses a layer with more entries than the limit', async () => {
    const entries = Array.from({ length: 1500 }, (_, i) => ({
      type: 'file' as const,
      path: `/many/${i}`,
      content: '',
    }));
    const ref = await push({ busybox: false, layers: [{ entries }] }, 'lim/entries:1');
    const { root, images } = await newStore({ layerEntries: 1000 });
    await expect(images.pull(ref)).rejects.toThrow(/has more than 1000 entries, the limit/);
    expect(await held(root)).toEqual(EMPTY);
  });

  it('refuses a config blob over the limit before fetching anything', async () => {
    const ref = await push({ config: { Labels: { padding: 'x'.repeat(64 * 1024) } } }, 'lim/config:1');
    const { root, images } = await newStore({ configBytes: 16 * 1024 });
    await expect(images.pull(ref)).rejects.toThrow(
      /the config of .* is 64\.\d KiB, over the 16\.0 KiB limit/,
    );
    expect(await held(root)).toEqual(EMPTY);
  });

  it('refuses a pull whose blobs would eat into the space kept free, before downloading', async () => {
    const ref = await push({ files: { '/x': 'x' } }, 'lim/free:1');
    const { root, images } = await newStore({ minFreeBytes: 1024 ** 5 });
    await expect(images.pull(ref)).rejects.toThrow(/not enough free space to pull .*must stay free/);
    expect(await held(root)).toEqual(EMPTY);
  });

  it('stops unpacking a layer that would fill the disk (a 64 MiB tmpfs), leaving it as it was', async () => {
    const ref = await push({ busybox: false, files: { '/bomb': Buffer.alloc(100 * MiB) } }, 'lim/fill:1');
    const mnt = await mkdtemp(join(tmpdir(), 'skiff-limits-tmpfs-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'skiff-test', mnt]);
    cleanups.push(async () => {
      // Lazily if something still holds it, so a failed run leaves no mount behind.
      try {
        execFileSync('umount', [mnt]);
      } catch {
        execFileSync('umount', ['-l', mnt]);
      }
      await rm(mnt, { recursive: true, force: true });
    });
    const { images } = await newStore({ minFreeBytes: 8 * MiB }, mnt);
    await expect(images.pull(ref)).rejects.toThrow(
      /not enough free space to unpack layer sha256:[0-9a-f]+: the image unpacks to more than/,
    );
    expect(await held(mnt)).toEqual(EMPTY);
    const df = execFileSync('df', ['--output=used', '-B1', mnt]).toString().split('\n')[1]!;
    expect(Number(df.trim())).toBeLessThan(MiB);
  });
});
