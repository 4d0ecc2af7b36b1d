// Pulls from the real CNCF distribution registry (Debian's docker-registry) with images
// pushed by skopeo, then mounts them with overlayfs and checks what the container sees.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ImageService, MediaType, parsePlatform } from '../../../agent/image/index.js';
import { isMountPoint, Snapshotter } from '../../../agent/snapshot/index.js';
import {
  type BuiltImage,
  buildImage,
  encodeTar,
  platformSpecs,
  pushImage,
  startRegistry,
  type TestRegistry,
  toRawEntries,
} from '../../fixtures/index.js';
import { mountImage } from './mount-image.js';
import { blobGets, type RegistryProxy, startProxy } from './proxy.js';
import { describeTree } from './tree.js';

let registry: TestRegistry;
let proxy: RegistryProxy;
const built: BuiltImage[] = [];
const roots: string[] = [];

beforeAll(async () => {
  registry = await startRegistry();
  proxy = await startProxy(registry.url);
});

afterAll(async () => {
  await proxy?.stop();
  await registry?.stop();
  for (const img of built) await img.remove();
});

async function newStore(): Promise<{ images: ImageService; snapshots: Snapshotter; root: string }> {
  const root = await mkdtemp(join(tmpdir(), 'skiff-image-test-'));
  roots.push(root);
  const snapshots = new Snapshotter({ root });
  const images = new ImageService({ root, unpacker: snapshots, authFile: join(root, 'auth.json') });
  cleanups.push(async () => {
    for (const c of await snapshots.list()) await snapshots.remove(c.id);
    await images.close();
  });
  return { images, snapshots, root };
}
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  for (const r of roots.splice(0)) await rm(r, { recursive: true, force: true });
});

async function push(
  spec: Parameters<typeof buildImage>[0],
  name: string,
  format?: 'oci' | 'v2s2',
): Promise<BuiltImage> {
  const img = await buildImage(spec);
  built.push(img);
  await pushImage(img, registry.host, name, format ? { format } : {});
  return img;
}

describe('image pull', () => {
  it('pulls an OCI image with gzip layers and records its config, tags and digests', async () => {
    const img = await push(
      {
        files: { '/app/hello.txt': 'hi\n' },
        config: { Cmd: ['cat', '/app/hello.txt'], Env: ['A=1'], WorkingDir: '/app' },
      },
      't/oci:1',
    );
    const { images, snapshots } = await newStore();
    const ref = `${proxy.host}/t/oci:1`;
    const events: string[] = [];
    const rec = await images.pull(ref, { onProgress: (e) => events.push(e.type) });
    expect(rec.id).toBe(img.manifests[0]!.configDigest);
    expect(rec.manifestMediaType).toBe(MediaType.ociManifest);
    expect(rec.repoTags).toEqual([ref]);
    expect(rec.repoDigests).toEqual([`${proxy.host}/t/oci@${img.digest}`]);
    expect(rec.config.config).toMatchObject({
      Cmd: ['cat', '/app/hello.txt'],
      Env: ['A=1'],
      WorkingDir: '/app',
    });
    expect(rec.layers.map((l) => l.diffId)).toEqual(img.manifests[0]!.layers.map((l) => l.diffId));
    expect(events[0]).toBe('resolved');
    expect(events.at(-1)).toBe('done');
    expect(images.get(ref)?.id).toBe(rec.id);
    expect(images.get(rec.id.slice(7, 19))?.id).toBe(rec.id);
    expect(images.get(`${proxy.host}/t/oci@${img.digest}`)?.id).toBe(rec.id);
    expect(images.list()).toHaveLength(1);

    const { rootfs } = await mountImage(snapshots, 'c-oci', rec, images.content);
    expect(await readFile(join(rootfs, 'app/hello.txt'), 'utf8')).toBe('hi\n');
    expect(execFileSync(join(rootfs, 'bin/busybox'), ['echo', 'runs']).toString()).toBe('runs\n');
    await snapshots.remove('c-oci');
    expect(await isMountPoint(rootfs)).toBe(false);
  });

  it('pulls a Docker schema2 image', async () => {
    const img = await push({ files: { '/etc/kind': 'docker\n' } }, 't/docker:1', 'v2s2');
    const { images, snapshots } = await newStore();
    const rec = await images.pull(`${registry.host}/t/docker:1`);
    expect(rec.manifestMediaType).toBe(MediaType.dockerManifest);
    expect(rec.layers.every((l) => l.mediaType === MediaType.dockerLayerGzip)).toBe(true);
    expect(rec.layers.map((l) => l.diffId)).toEqual(img.manifests[0]!.layers.map((l) => l.diffId));
    const { rootfs } = await mountImage(snapshots, 'c-docker', rec, images.content);
    expect(await readFile(join(rootfs, 'etc/kind'), 'utf8')).toBe('docker\n');
  });

  it('picks the right image from an index of three platforms', async () => {
    const img = await push(
      { platforms: platformSpecs(['linux/arm64/v8', 'linux/amd64', 'linux/arm/v7']) },
      't/multi:1',
    );
    const { images, snapshots } = await newStore();
    const ref = `${registry.host}/t/multi:1`;
    const host = await images.pull(ref);
    expect(host.indexDigest).toBe(img.digest);
    expect(host.config.config?.Env).toEqual(['PLATFORM=linux/amd64']);
    expect(host.platform).toEqual({ os: 'linux', architecture: 'amd64' });
    const { rootfs } = await mountImage(snapshots, 'c-multi', host, images.content);
    expect(await readFile(join(rootfs, 'etc/platform'), 'utf8')).toBe('linux/amd64\n');

    const arm = await images.pull(ref, { platform: parsePlatform('linux/arm/v7') });
    expect(arm.config.config?.Env).toEqual(['PLATFORM=linux/arm/v7']);
    expect(arm.platform).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    await expect(images.pull(ref, { platform: parsePlatform('linux/s390x') })).rejects.toThrow(
      /no image for platform linux\/s390x .*linux\/arm64\/v8, linux\/amd64, linux\/arm\/v7/,
    );
  });

  it('picks the right image from a Docker manifest list', async () => {
    await push({ platforms: platformSpecs(['linux/arm64/v8', 'linux/amd64']) }, 't/list:1', 'v2s2');
    const { images } = await newStore();
    const rec = await images.pull(`${registry.host}/t/list:1`, { platform: parsePlatform('linux/arm64') });
    const list = JSON.parse((await images.content.read(rec.indexDigest!)).toString());
    expect(list.mediaType).toBe(MediaType.dockerList);
    expect(rec.manifestMediaType).toBe(MediaType.dockerManifest);
    expect(rec.config.config?.Env).toEqual(['PLATFORM=linux/arm64/v8']);
  });

  it('unpacks zstd layers', async () => {
    await push(
      { layers: [{ entries: [{ type: 'file', path: 'zstd.txt', content: 'zstd' }], compression: 'zstd' }] },
      't/zstd:1',
    );
    const { images, snapshots } = await newStore();
    const rec = await images.pull(`${registry.host}/t/zstd:1`);
    expect(rec.layers.map((l) => l.mediaType)).toEqual([MediaType.ociLayerGzip, MediaType.ociLayerZstd]);
    const { rootfs } = await mountImage(snapshots, 'c-zstd', rec, images.content);
    expect(await readFile(join(rootfs, 'zstd.txt'), 'utf8')).toBe('zstd');
  });

  it('unpacks uncompressed layers (pushed by skiff: skopeo would compress them)', async () => {
    const source = await newStore();
    const tarball = join(source.root, 'rootfs.tar');
    await writeFile(
      tarball,
      encodeTar(
        toRawEntries([
          { type: 'dir', path: 'etc' },
          { type: 'file', path: 'etc/plain', content: 'plain' },
        ]),
      ),
    );
    await source.images.importRootfs(tarball, `${registry.host}/t/plain:1`);
    await source.images.push(`${registry.host}/t/plain:1`);
    const { images, snapshots } = await newStore();
    const rec = await images.pull(`${registry.host}/t/plain:1`);
    expect(rec.layers.map((l) => l.mediaType)).toEqual([MediaType.ociLayer]);
    const { rootfs } = await mountImage(snapshots, 'c-plain', rec, images.content);
    expect(await readFile(join(rootfs, 'etc/plain'), 'utf8')).toBe('plain');
  });

  it('applies whiteouts and replacements: the rootfs holds exactly the expected tree', async () => {
    await push(
      {
        busybox: false,
        layers: [
          {
            entries: [
              { type: 'dir', path: 'etc' },
              { type: 'file', path: 'etc/a', content: 'a1' },
              { type: 'file', path: 'etc/b', content: 'b1' },
              { type: 'dir', path: 'opq' },
              { type: 'file', path: 'opq/old', content: 'old' },
              { type: 'dir', path: 'opq/sub' },
              { type: 'file', path: 'opq/sub/deep', content: 'deep' },
              { type: 'dir', path: 'gone' },
              { type: 'file', path: 'gone/f', content: 'f' },
              { type: 'file', path: 'file2dir', content: 'was a file' },
              { type: 'dir', path: 'dir2file' },
              { type: 'file', path: 'dir2file/inner', content: 'inner' },
            ],
          },
          {
            entries: [
              { type: 'whiteout', path: 'etc/a' },
              { type: 'dir', path: 'etc' },
              { type: 'file', path: 'etc/b', content: 'b2', mode: 0o600 },
              { type: 'opaque', path: 'opq' },
              { type: 'file', path: 'opq/new', content: 'new' },
              { type: 'whiteout', path: 'gone' },
              { type: 'whiteout', path: 'file2dir' },
              { type: 'dir', path: 'file2dir' },
              { type: 'file', path: 'file2dir/child', content: 'child' },
              { type: 'whiteout', path: 'dir2file' },
              { type: 'file', path: 'dir2file', content: 'now a file' },
            ],
          },
          {
            compression: 'none',
            entries: [
              { type: 'dir', path: 'misc' },
              { type: 'file', path: 'misc/suid', content: 'x', mode: 0o4755, uid: 1000, gid: 1000 },
              { type: 'hardlink', path: 'misc/hard', target: 'misc/suid' },
              { type: 'symlink', path: 'misc/link', target: '../etc/b' },
              { type: 'symlink', path: 'misc/abs', target: '/etc/b', uid: 1000, gid: 1000 },
              { type: 'chardev', path: 'misc/null', major: 1, minor: 3, mode: 0o666 },
              { type: 'fifo', path: 'misc/fifo', mode: 0o640 },
            ],
          },
        ],
      },
      't/whiteouts:1',
    );
    const { images, snapshots, root } = await newStore();
    const rec = await images.pull(`${registry.host}/t/whiteouts:1`);
    const { rootfs } = await mountImage(snapshots, 'c-wh', rec, images.content);
    expect(await describeTree(rootfs)).toEqual(
      [
        'dir2file file 644 0:0 "now a file" nlink=1',
        'etc dir 755 0:0',
        'etc/b file 600 0:0 "b2" nlink=1',
        'file2dir dir 755 0:0',
        'file2dir/child file 644 0:0 "child" nlink=1',
        'misc dir 755 0:0',
        'misc/abs symlink 1000:1000 -> /etc/b',
        'misc/fifo fifo 640 0:0',
        'misc/hard file 4755 1000:1000 "x" nlink=2',
        'misc/link symlink 0:0 -> ../etc/b',
        'misc/null chardev 666 0:0 1,3',
        'misc/suid file 4755 1000:1000 "x" nlink=2',
        'opq dir 755 0:0',
        'opq/new file 644 0:0 "new" nlink=1',
      ].sort(),
    );
    // In the layer itself: overlay whiteouts (char 0/0) and the opaque xattr.
    const layer2 = join(root, 'snapshots', rec.layers[1]!.chainId.slice(7), 'fs');
    const tree2 = await describeTree(layer2);
    expect(tree2).toContain('etc/a chardev 0 0:0 0,0');
    expect(tree2).toContain('gone chardev 0 0:0 0,0');
    expect(
      execFileSync('getfattr', [
        '--absolute-names',
        '--only-values',
        '-n',
        'trusted.overlay.opaque',
        join(layer2, 'opq'),
      ]).toString(),
    ).toBe('y');
  });

  it('coalesces concurrent pulls and fetches a layer shared by two images once', async () => {
    await push({ files: { '/one': '1' } }, 't/share-a:1');
    const b = await push({ files: { '/two': '2' } }, 't/share-b:1');
    const { images } = await newStore();
    const before = proxy.requests.length;
    const [a1, a2, b1] = await Promise.all([
      images.pull(`${proxy.host}/t/share-a:1`),
      images.pull(`${proxy.host}/t/share-a:1`),
      images.pull(`${proxy.host}/t/share-b:1`),
    ]);
    expect(a1).toEqual(a2);
    expect(b1.layers[0]!.digest).toBe(a1.layers[0]!.digest);
    const seen = proxy.requests.slice(before);
    expect(blobGets(seen, b.manifests[0]!.layers[0]!.digest)).toHaveLength(1);
    expect(seen.filter((r) => r.method === 'GET' && r.path.endsWith('/manifests/1'))).toHaveLength(2);
  });

  it('pulls through a configured mirror before the registry itself', async () => {
    await push({ files: { '/mirrored': 'yes' } }, 't/mirrored:1');
    const root = await mkdtemp(join(tmpdir(), 'skiff-image-test-'));
    roots.push(root);
    // The registry name does not resolve: only the mirror can serve it.
    const images = new ImageService({
      root,
      authFile: join(root, 'auth.json'),
      registries: { mirrors: { 'registry.invalid': [`http://${proxy.host}`] } },
    });
    cleanups.push(() => images.close());
    const before = proxy.requests.length;
    const rec = await images.pull('registry.invalid/t/mirrored:1');
    expect(rec.repoTags).toEqual(['registry.invalid/t/mirrored:1']);
    expect(proxy.requests.slice(before).some((r) => r.path === '/v2/t/mirrored/manifests/1')).toBe(true);
  });

  it('speaks HTTPS to an insecure registry with a self-signed certificate', async () => {
    const tls = await startRegistry({ tls: true });
    cleanups.push(() => tls.stop());
    const img = await buildImage({ files: { '/secure': 'tls' } });
    built.push(img);
    await pushImage(img, tls.host, 't/tls:1');
    const { images, snapshots } = await newStore();
    const rec = await images.pull(`${tls.host}/t/tls:1`);
    expect(rec.repoDigests).toEqual([`${tls.host}/t/tls@${img.digest}`]);
    const { rootfs } = await mountImage(snapshots, 'c-tls', rec, images.content);
    expect(await readFile(join(rootfs, 'secure'), 'utf8')).toBe('tls');
  });

  it('says "manifest unknown" for a tag the registry does not have', async () => {
    const { images } = await newStore();
    await expect(images.pull(`${registry.host}/t/nothing:1`)).rejects.toThrow(
      `manifest unknown: ${registry.host}/t/nothing:1`,
    );
    expect(images.list()).toEqual([]);
  });
});
