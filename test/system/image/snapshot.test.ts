// The snapshotter on its own: an image of 130 layers mounts although their absolute
// paths would overflow the one-page mount option limit, and each layer is unpacked once.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ContentStore,
  chainIds,
  type ImageLayer,
  type ImageRecord,
  LiveBlob,
  MediaType,
  sha256,
} from '../../../agent/image/index.js';
import { isMountPoint, Snapshotter } from '../../../agent/snapshot/index.js';
import { encodeTar, toRawEntries } from '../../fixtures/index.js';
import { mountImage } from './mount-image.js';
import { tarWithXattrs } from './xattr-tar.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An image record over hand-made uncompressed layers, one file each (`f<i>`), in a content store. */
async function manyLayerImage(content: ContentStore, count: number): Promise<ImageRecord> {
  const layers = [];
  for (let i = 0; i < count; i++) {
    const tar = encodeTar(toRawEntries([{ type: 'file', path: `f${i}`, content: `layer ${i}` }]));
    const digest = await content.writeBuffer(tar);
    layers.push({ digest, diffId: digest, size: tar.length, mediaType: MediaType.ociLayer });
  }
  const chains = chainIds(layers.map((l) => l.diffId));
  const config = {
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers' as const, diff_ids: layers.map((l) => l.diffId) },
  };
  return {
    id: sha256(JSON.stringify(config)),
    repoTags: [],
    repoDigests: [],
    config,
    layers: layers.map((l, i) => ({ ...l, chainId: chains[i]! })),
    platform: { os: 'linux', architecture: 'amd64' },
    size: 0,
    manifestDigest: sha256('none'),
    manifestMediaType: MediaType.ociManifest,
    created: new Date().toISOString(),
  };
}

describe('snapshotter', () => {
  it('mounts an image of 130 layers (past the mount option size limit) and unpacks each layer once', async () => {
    const root = await mkdtemp(join(tmpdir(), 'skiff-snap-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const content = new ContentStore(join(root, 'content'));
    await content.init();
    const image = await manyLayerImage(content, 130);
    // The absolute lowerdir list alone would not fit in one page.
    expect(
      image.layers.map((l) => join(root, 'snapshots', l.chainId.slice(7), 'fs')).join(':').length,
    ).toBeGreaterThan(4096);
    const snapshots = new Snapshotter({ root, content });
    cleanups.push(async () => {
      for (const c of await snapshots.list()) await snapshots.remove(c.id);
    });
    const [a, b] = await Promise.all([
      mountImage(snapshots, 'many-a', image),
      mountImage(snapshots, 'many-b', image),
    ]);
    for (const { rootfs } of [a, b]) {
      expect(await readFile(join(rootfs, 'f0'), 'utf8')).toBe('layer 0');
      expect(await readFile(join(rootfs, 'f129'), 'utf8')).toBe('layer 129');
      expect((await readdir(rootfs)).length).toBe(130);
    }
    expect(await snapshots.listSnapshots()).toHaveLength(130);
    expect(await readdir(join(root, 'snapshots', 'l'))).toHaveLength(130);
    expect((await snapshots.list()).map((c) => [c.id, c.mounted])).toEqual([
      ['many-a', true],
      ['many-b', true],
    ]);

    // Writes go to the container's upper dir, not to the shared layers.
    await writeFile(join(a.rootfs, 'f0'), 'changed');
    expect(await readFile(join(b.rootfs, 'f0'), 'utf8')).toBe('layer 0');

    await snapshots.remove('many-a');
    expect(await isMountPoint(a.rootfs)).toBe(false);
    expect((await snapshots.gc([])).snapshotsRemoved).toBe(0); // many-b still uses them
    await snapshots.remove('many-b');
    expect((await snapshots.gc([])).snapshotsRemoved).toBe(130);
    expect(await readdir(join(root, 'snapshots', 'l'))).toEqual([]);
  });

  it('keeps the extended attributes a layer carries (PAX SCHILY.xattr)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'skiff-snap-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const content = new ContentStore(join(root, 'content'));
    await content.init();
    const tar = tarWithXattrs('tool', 'bin', { 'user.skiff.note': 'kept', 'trusted.overlay.opaque': 'y' });
    const digest = await content.writeBuffer(tar);
    const [chainId] = chainIds([digest]);
    const image = {
      ...(await manyLayerImage(content, 0)),
      layers: [
        { digest, diffId: digest, chainId: chainId!, size: tar.length, mediaType: MediaType.ociLayer },
      ],
    };
    const snapshots = new Snapshotter({ root, content });
    cleanups.push(() => snapshots.remove('x'));
    const { rootfs } = await mountImage(snapshots, 'x', image);
    const attrs = execFileSync('getfattr', [
      '--absolute-names',
      '-d',
      '-m',
      '-',
      join(rootfs, 'tool'),
    ]).toString();
    expect(attrs).toContain('user.skiff.note="kept"');
    // overlay's own attributes are never taken from a layer
    expect(attrs).not.toContain('trusted.overlay');
  });

  it('refuses a layer that hard-links to a file outside it, leaving no snapshot', async () => {
    const root = await mkdtemp(join(tmpdir(), 'skiff-snap-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const content = new ContentStore(join(root, 'content'));
    await content.init();
    const tar = encodeTar([
      { path: 'ok', type: 'file', content: 'x' },
      { path: 'bad', type: 'hardlink', linkpath: '../outside' },
    ]);
    const digest = await content.writeBuffer(tar);
    const image = {
      ...(await manyLayerImage(content, 0)),
      layers: [{ digest, diffId: digest, chainId: digest, size: tar.length, mediaType: MediaType.ociLayer }],
    };
    const snapshots = new Snapshotter({ root, content });
    await expect(snapshots.unpack(image.layers)).rejects.toThrow(
      `layer ${digest} contains a path that escapes the rootfs: bad => ../outside`,
    );
    expect(await snapshots.listSnapshots()).toEqual([]);
    expect(await readdir(join(root, 'snapshots', 'tmp'))).toEqual([]);
  });

  it('unpacks each layer once its blob is ready, while later blobs are still to come', async () => {
    const root = await mkdtemp(join(tmpdir(), 'skiff-snap-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const content = new ContentStore(join(root, 'content'));
    await content.init();
    const image = await manyLayerImage(content, 3);
    const blobs = new Map(image.layers.map((l) => [l.digest, deferred()]));
    const snapshots = new Snapshotter({ root, content, concurrency: 1 });
    const unpacked = snapshots.unpack(image.layers, content, { ready: (d) => blobs.get(d)!.promise });
    const [l0, l1, l2] = image.layers as [ImageLayer, ImageLayer, ImageLayer];
    blobs.get(l0.digest)!.resolve();
    await vi.waitFor(async () => expect(await snapshots.hasSnapshot(l0.chainId)).toBe(true), {
      timeout: 10_000,
    });
    expect(await snapshots.hasSnapshot(l1.chainId)).toBe(false);
    // A prune meanwhile leaves the layers of the unpack under way alone.
    expect((await snapshots.gc([])).snapshotsRemoved).toBe(0);
    expect(await snapshots.hasSnapshot(l0.chainId)).toBe(true);
    blobs.get(l2.digest)!.resolve();
    blobs.get(l1.digest)!.resolve();
    await unpacked;
    expect((await snapshots.listSnapshots()).sort()).toEqual(image.layers.map((l) => l.chainId).sort());
    // Parents are recorded as for an unpack at once: the chain mounts whole.
    const { rootfs } = await mountImage(snapshots, 'piped', image);
    cleanups.push(() => snapshots.remove('piped'));
    expect((await readdir(rootfs)).sort()).toEqual(['f0', 'f1', 'f2']);
  });

  it('fails the unpack when a blob will not land, removing the layers it unpacked', async () => {
    const root = await mkdtemp(join(tmpdir(), 'skiff-snap-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const content = new ContentStore(join(root, 'content'));
    await content.init();
    const image = await manyLayerImage(content, 3);
    const [l0, l1] = image.layers as [ImageLayer, ImageLayer];
    const snapshots = new Snapshotter({ root, content });
    const failed = new Error('download of blob x was interrupted');
    await expect(
      snapshots.unpack(image.layers, content, {
        ready: (d) => (d === l1.digest ? Promise.reject(failed) : Promise.resolve()),
      }),
    ).rejects.toBe(failed);
    expect(await snapshots.hasSnapshot(l0.chainId)).toBe(false);
    expect(await snapshots.listSnapshots()).toEqual([]);
    expect(await readdir(join(root, 'snapshots', 'tmp'))).toEqual([]);
  });
  it('unpacks a layer from its bytes while they download, and keeps it only once the blob is verified', async () => {
    const root = await mkdtemp(join(tmpdir(), 'skiff-snap-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const content = new ContentStore(join(root, 'content'));
    await content.init();
    const image = await manyLayerImage(content, 1);
    const l0 = image.layers[0]!;
    const live = new LiveBlob(l0.digest);
    const verified = deferred();
    const snapshots = new Snapshotter({ root, content });
    // The store's copy is not read: a live unpack stands on the bytes it was handed alone.
    const reads: string[] = [];
    const source = {
      createReadStream: (d: string) => {
        reads.push(d);
        return content.createReadStream(d);
      },
    };
    const unpacked = snapshots.unpack(image.layers, source, {
      ready: () => verified.promise,
      live: () => live.open(),
    });
    const bytes = await content.read(l0.digest);
    await live.push(bytes.subarray(0, 100));
    await live.push(bytes.subarray(100));
    live.end();
    // Every byte is unpacked (into snapshots/tmp), yet no snapshot before the blob is verified.
    await vi.waitFor(async () => expect(await readdir(join(root, 'snapshots', 'tmp'))).toHaveLength(1), {
      timeout: 10_000,
    });
    expect(await snapshots.hasSnapshot(l0.chainId)).toBe(false);
    verified.resolve();
    await unpacked;
    expect(await snapshots.hasSnapshot(l0.chainId)).toBe(true);
    expect(reads).toEqual([]);
    expect(await readFile(join(snapshots.snapshotDir(l0.chainId), 'fs', 'f0'), 'utf8')).toBe('layer 0');
  });

  it('unpacks the stored blob when the live copy breaks off (a resumed download)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'skiff-snap-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const content = new ContentStore(join(root, 'content'));
    await content.init();
    const image = await manyLayerImage(content, 1);
    const l0 = image.layers[0]!;
    const live = new LiveBlob(l0.digest);
    const verified = deferred();
    const snapshots = new Snapshotter({ root, content });
    const unpacked = snapshots.unpack(image.layers, content, {
      ready: () => verified.promise,
      live: () => live.open(),
    });
    await live.push((await content.read(l0.digest)).subarray(0, 700));
    live.abandon('the download resumed from an earlier partial one');
    verified.resolve();
    await unpacked;
    expect(await readFile(join(snapshots.snapshotDir(l0.chainId), 'fs', 'f0'), 'utf8')).toBe('layer 0');
    expect(await readdir(join(root, 'snapshots', 'tmp'))).toEqual([]);
  });

  it('lets the download of a layer unpacked already go on without waiting for a reader', async () => {
    const root = await mkdtemp(join(tmpdir(), 'skiff-snap-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const content = new ContentStore(join(root, 'content'));
    await content.init();
    const image = await manyLayerImage(content, 1);
    const snapshots = new Snapshotter({ root, content });
    await snapshots.unpack(image.layers, content);
    // The blob downloads again (it was removed, say) while its layer is still unpacked.
    const live = new LiveBlob(image.layers[0]!.digest);
    await snapshots.unpack(image.layers, content, {
      ready: () => Promise.resolve(),
      live: () => live.open(),
    });
    // Abandoned: no copy is kept for a reader that will never come, and the download never waits.
    expect(live.push(Buffer.alloc(9 << 20))).toBeUndefined();
    expect(live.goneWhy).toMatch(/reader stopped/);
  });

  it('keeps nothing of a layer whose bytes unpacked but whose blob failed its digest', async () => {
    const root = await mkdtemp(join(tmpdir(), 'skiff-snap-'));
    cleanups.push(() => rm(root, { recursive: true, force: true }));
    const content = new ContentStore(join(root, 'content'));
    await content.init();
    const image = await manyLayerImage(content, 1);
    const l0 = image.layers[0]!;
    const live = new LiveBlob(l0.digest);
    const mismatch = new Error(`digest mismatch for blob ${l0.digest}`);
    const verified = deferred();
    const snapshots = new Snapshotter({ root, content });
    const unpacked = snapshots.unpack(image.layers, content, {
      ready: () => verified.promise,
      live: () => live.open(),
    });
    await live.push(await content.read(l0.digest));
    live.end();
    verified.reject(mismatch);
    await expect(unpacked).rejects.toBe(mismatch);
    expect(await snapshots.listSnapshots()).toEqual([]);
    expect(await readdir(join(root, 'snapshots', 'tmp'))).toEqual([]);
  });
});

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A rejection the test awaits through the unpack is not an unhandled one.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}
