// The overlayfs snapshotter. Each layer is unpacked once into
// `snapshots/<chainId hex>/fs` (keyed by chain ID, so a layer shared by images is shared
// on disk too) with a short alias `snapshots/l/<id>` → `../<hex>/fs`. A container's
// rootfs is an overlay of its image's layers plus `containers/<id>/{upper,work}`.
// The kernel takes at most one page of mount options, so the overlay is mounted from
// a `mount` process whose working directory is `snapshots/`, naming lower layers by
// their short aliases (`l/abcdefghij`, 12 bytes each: over 250 layers fit).
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, readlink, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { type Logger, SkiffError, silentLogger } from '../../lib/index.js';
import { type Compression, decompress, type ImageRecord, layerCompression } from '../image/index.js';
import { extractLayer } from './extract.js';
import { mountOverlay, unmount } from './host-tools.js';

/** Where the snapshotter reads layer blobs from (the image content store fits). */
export interface BlobSource {
  createReadStream(digest: string): Readable;
}

export interface SnapshotterOptions {
  /** The node's state root: snapshots go to `snapshots/`, container layers to `containers/`. */
  root: string;
  /** Default blob source for mount() when layers still need unpacking. */
  content?: BlobSource;
  /** Layers unpacked at once (default 2). */
  concurrency?: number;
  logger?: Logger;
}

export interface ContainerSnapshot {
  id: string;
  imageId: string;
  chainIds: string[];
  rootfs: string;
  mounted: boolean;
}

/** The mount(2) data limit is one page. */
const MAX_MOUNT_OPTIONS = 4095;
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

function hex(digest: string): string {
  const i = digest.indexOf(':');
  return i < 0 ? digest : digest.slice(i + 1);
}

export class Snapshotter {
  readonly snapshotsDir: string;
  readonly containersDir: string;
  private readonly log: Logger;
  private readonly unpacking = new Map<string, Promise<void>>();

  constructor(private readonly opts: SnapshotterOptions) {
    this.snapshotsDir = join(opts.root, 'snapshots');
    this.containersDir = join(opts.root, 'containers');
    this.log = (opts.logger ?? silentLogger).child({ component: 'snapshot' });
  }

  private async init(): Promise<void> {
    await mkdir(join(this.snapshotsDir, 'l'), { recursive: true });
    await mkdir(join(this.snapshotsDir, 'tmp'), { recursive: true });
    await mkdir(this.containersDir, { recursive: true });
  }

  snapshotDir(chainId: string): string {
    return join(this.snapshotsDir, hex(chainId));
  }

  async hasSnapshot(chainId: string): Promise<boolean> {
    return stat(join(this.snapshotDir(chainId), 'fs')).then(
      () => true,
      () => false,
    );
  }

  /** Unpacks every layer of the image that is not unpacked yet (each layer once, even across calls). */
  async ensureLayers(image: ImageRecord, content: BlobSource | undefined = this.opts.content): Promise<void> {
    await this.init();
    if (!content)
      throw new SkiffError('internal', 'the snapshotter has no content store to unpack layers from');
    const limit = this.opts.concurrency ?? 2;
    const queue = [...image.layers];
    const worker = async () => {
      for (let layer = queue.shift(); layer; layer = queue.shift()) {
        const l = layer;
        let job = this.unpacking.get(l.chainId);
        if (!job) {
          job = this.unpack(l, content).finally(() => this.unpacking.delete(l.chainId));
          this.unpacking.set(l.chainId, job);
        }
        await job;
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, queue.length) }, worker));
  }

  private async unpack(
    layer: { digest: string; diffId: string; chainId: string; mediaType: string },
    content: BlobSource,
  ): Promise<void> {
    if (await this.hasSnapshot(layer.chainId)) return;
    const compression: Compression | undefined = layerCompression(layer.mediaType);
    if (!compression)
      throw new SkiffError(
        'unsupported',
        `layer ${layer.digest} has unsupported media type ${layer.mediaType}`,
      );
    const tmp = join(
      this.snapshotsDir,
      'tmp',
      `${hex(layer.chainId).slice(0, 16)}-${randomBytes(4).toString('hex')}`,
    );
    const fs = join(tmp, 'fs');
    await mkdir(fs, { recursive: true, mode: 0o755 });
    const started = Date.now();
    try {
      const stats = await extractLayer(decompress(content.createReadStream(layer.digest), compression), fs, {
        layer: layer.digest,
        diffId: layer.diffId,
        scratchDir: join(this.snapshotsDir, 'tmp'),
      });
      const short = await this.newShortId();
      await writeFile(join(tmp, 'link'), short);
      await writeFile(
        join(tmp, 'meta.json'),
        JSON.stringify({ chainId: layer.chainId, diffId: layer.diffId, digest: layer.digest }),
      );
      await rename(tmp, this.snapshotDir(layer.chainId));
      await symlink(`../${hex(layer.chainId)}/fs`, join(this.snapshotsDir, 'l', short));
      this.log.debug({ layer: layer.digest, ms: Date.now() - started, ...stats }, 'layer unpacked');
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      if (e instanceof SkiffError) throw e;
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT' && String(err.path ?? '').includes('/content/')) {
        throw new SkiffError('not_found', `layer ${layer.digest} is missing from the content store`, {
          hint: 'pull the image again',
        });
      }
      throw new SkiffError('internal', `unpacking layer ${layer.digest} failed: ${err.message}`, {
        cause: e,
      });
    }
  }

  private async newShortId(): Promise<string> {
    for (;;) {
      const id = randomBytes(8).toString('base64url').replace(/[-_]/g, '').slice(0, 10).toLowerCase();
      if (id.length < 10) continue;
      const taken = await stat(join(this.snapshotsDir, 'l', id)).then(
        () => true,
        () => false,
      );
      if (!taken) return id;
    }
  }

  private async shortIdOf(chainId: string): Promise<string> {
    try {
      return (await readFile(join(this.snapshotDir(chainId), 'link'), 'utf8')).trim();
    } catch {
      throw new SkiffError('not_found', `layer snapshot ${chainId} is not unpacked`, {
        hint: 'unpack the image layers (ensureLayers) before mounting',
      });
    }
  }

  private containerDir(id: string): string {
    if (!CONTAINER_ID.test(id)) throw new SkiffError('invalid_argument', `invalid container ID '${id}'`);
    return join(this.containersDir, id);
  }

  /** Mounts the container's rootfs (idempotent) and returns its path. */
  async mount(containerId: string, image: ImageRecord): Promise<{ rootfs: string }> {
    await this.init();
    const dir = this.containerDir(containerId);
    const rootfs = join(dir, 'rootfs');
    const existing = await this.readMeta(containerId);
    if (existing && existing.imageId !== image.id) {
      throw new SkiffError(
        'conflict',
        `container ${containerId} already has a rootfs from image ${existing.imageId}`,
      );
    }
    if (await isMountPoint(rootfs)) return { rootfs };
    if (this.opts.content) await this.ensureLayers(image);
    const lowers: string[] = [];
    for (const layer of [...image.layers].reverse()) lowers.push(`l/${await this.shortIdOf(layer.chainId)}`);
    if (lowers.length === 0) {
      await mkdir(join(this.snapshotsDir, 'empty'), { recursive: true });
      lowers.push('empty');
    }
    await mkdir(join(dir, 'upper'), { recursive: true });
    await mkdir(join(dir, 'work'), { recursive: true });
    await mkdir(rootfs, { recursive: true });
    await writeFile(
      join(dir, 'snapshot.json'),
      JSON.stringify({ imageId: image.id, chainIds: image.layers.map((l) => l.chainId) }),
    );
    const options = `lowerdir=${lowers.join(':')},upperdir=${join(dir, 'upper')},workdir=${join(dir, 'work')}`;
    if (options.length > MAX_MOUNT_OPTIONS) {
      throw new SkiffError(
        'unsupported',
        `image ${image.id} has too many layers (${lowers.length}) for one overlay mount`,
      );
    }
    await mountOverlay(options, rootfs, this.snapshotsDir);
    this.log.debug({ containerId, layers: lowers.length }, 'rootfs mounted');
    return { rootfs };
  }

  async unmount(containerId: string): Promise<void> {
    const rootfs = join(this.containerDir(containerId), 'rootfs');
    if (await isMountPoint(rootfs)) await unmount(rootfs);
  }

  /** Unmounts and deletes the container's writable layer; idempotent. */
  async remove(containerId: string): Promise<void> {
    await this.unmount(containerId);
    await rm(this.containerDir(containerId), { recursive: true, force: true });
  }

  private async readMeta(id: string): Promise<{ imageId: string; chainIds: string[] } | undefined> {
    try {
      return JSON.parse(await readFile(join(this.containerDir(id), 'snapshot.json'), 'utf8')) as {
        imageId: string;
        chainIds: string[];
      };
    } catch {
      return undefined;
    }
  }

  async list(): Promise<ContainerSnapshot[]> {
    const names = await readdir(this.containersDir).catch(() => [] as string[]);
    const out: ContainerSnapshot[] = [];
    for (const id of names.sort()) {
      if (!CONTAINER_ID.test(id)) continue;
      const meta = await this.readMeta(id);
      if (!meta) continue;
      const rootfs = join(this.containersDir, id, 'rootfs');
      out.push({
        id,
        imageId: meta.imageId,
        chainIds: meta.chainIds,
        rootfs,
        mounted: await isMountPoint(rootfs),
      });
    }
    return out;
  }

  /** Chain IDs of the unpacked layers. */
  async listSnapshots(): Promise<string[]> {
    const names = await readdir(this.snapshotsDir).catch(() => [] as string[]);
    return names.filter((n) => /^[a-f0-9]{64}$/.test(n)).map((n) => `sha256:${n}`);
  }

  /**
   * Deletes unpacked layers that neither `keep` (the images still present) nor any
   * container uses, and leftovers of interrupted unpacks.
   */
  async gc(keep: Iterable<ImageRecord>): Promise<{ snapshotsRemoved: number }> {
    await this.init();
    const used = new Set<string>();
    for (const img of keep) for (const l of img.layers) used.add(l.chainId);
    for (const c of await this.list()) for (const id of c.chainIds) used.add(id);
    let snapshotsRemoved = 0;
    for (const chainId of await this.listSnapshots()) {
      if (used.has(chainId) || this.unpacking.has(chainId)) continue;
      const short = await readFile(join(this.snapshotDir(chainId), 'link'), 'utf8').catch(() => '');
      if (short.trim()) await rm(join(this.snapshotsDir, 'l', short.trim()), { force: true });
      await rm(this.snapshotDir(chainId), { recursive: true, force: true });
      snapshotsRemoved++;
    }
    // Dangling aliases (a crash between rename and symlink cleanup) and stale temp dirs.
    for (const name of await readdir(join(this.snapshotsDir, 'l')).catch(() => [] as string[])) {
      const target = await readlink(join(this.snapshotsDir, 'l', name)).catch(() => '');
      const exists = await stat(join(this.snapshotsDir, 'l', name)).then(
        () => true,
        () => false,
      );
      if (!target || !exists) await rm(join(this.snapshotsDir, 'l', name), { force: true });
    }
    if (this.unpacking.size === 0) {
      for (const name of await readdir(join(this.snapshotsDir, 'tmp')).catch(() => [] as string[])) {
        await rm(join(this.snapshotsDir, 'tmp', name), { recursive: true, force: true });
      }
    }
    return { snapshotsRemoved };
  }
}

/** Whether `path` is a mount point, from /proc/self/mountinfo. */
export async function isMountPoint(path: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  const escaped = path.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  return info.split('\n').some((line) => line.split(' ')[4] === escaped);
}
