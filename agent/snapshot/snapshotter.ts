// The overlayfs snapshotter, shaped like containerd's: it works on chain IDs and answers
// with mounts; its caller performs them. Each layer is unpacked once into
// `snapshots/<chainId hex>/fs` (keyed by chain ID, so a layer shared by images is shared
// on disk too), recording its parent's chain ID, with a short alias `snapshots/l/<id>` →
// `../<hex>/fs`. prepare(key, parent) makes the writable snapshot
// `containers/<key>/{upper,work}` over the parent's chain and returns the overlay mount.
// The kernel takes at most one page of mount options, so the mount names lower layers
// by their short aliases (`l/abcdefghij`, 12 bytes each: over 250 layers fit), relative
// to `snapshots/`, the directory the mount is made from.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, readlink, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { diskUsage } from '../../disk/index.js';
import { type Logger, SkiffError, silentLogger } from '../../lib/index.js';
import {
  type Compression,
  checkFreeSpace,
  DEFAULT_PULL_LIMITS,
  decompress,
  formatBytes,
  type ImageLayer,
  LiveBlobGone,
  layerCompression,
  PULL_LIMIT_SETTINGS,
  type PullLimits,
} from '../image/index.js';
import { type ExtractBudget, type ExtractStats, extractLayer } from './extract.js';
import { isMountPoint, MAX_MOUNT_OPTIONS, type Mount, unmountAll } from './mount.js';

/** Where the snapshotter reads layer blobs from (the image content store fits). */
export interface BlobSource {
  createReadStream(digest: string): Readable;
}

export interface SnapshotterOptions {
  /** The node's state root: snapshots go to `snapshots/`, container layers to `containers/`. */
  root: string;
  /** Default blob source for unpack(). */
  content?: BlobSource;
  /** Layers unpacked at once (default 3: as many as a pull downloads at once, each unpacked as it lands). */
  concurrency?: number;
  /** How much one layer and one unpack() may write (default DEFAULT_PULL_LIMITS). */
  limits?: Pick<PullLimits, 'layerBytes' | 'imageBytes' | 'layerEntries' | 'minFreeBytes'>;
  logger?: Logger;
}

export interface UnpackOptions {
  /**
   * Resolves once the layer's blob (by digest) is in the content store, rejects when it
   * will not be: a pull unpacks each layer while the later ones still download.
   */
  ready?: (digest: string) => Promise<void>;
  /**
   * The layer's bytes as its download receives them, from the first; undefined when not to
   * be had. A layer is then unpacked while it downloads (into a temporary directory, kept
   * only once `ready` resolved: the blob verified by digest); when the live copy breaks off
   * (a resumed or retried download), it is unpacked again from the stored blob.
   */
  live?: (digest: string) => Readable | undefined;
}

/** A layer's bytes during its download, and its verified outcome. */
interface Download {
  stream: Readable;
  ready: () => Promise<void>;
}

/** A writable snapshot (a container's layer). */
export interface ContainerSnapshot {
  id: string;
  /** The image it was prepared for, when the caller said. */
  imageId: string;
  /** The read-only chain under it, bottom first. */
  chainIds: string[];
  /** Where the caller mounts it (rootfsPath). */
  rootfs: string;
  mounted: boolean;
}

/** What unpacking needs of a layer. */
export type UnpackLayer = Pick<ImageLayer, 'digest' | 'diffId' | 'chainId' | 'mediaType'> & {
  /** Compressed size, for the free-space check. */
  size?: number;
};

interface LayerMeta {
  chainId: string;
  diffId: string;
  digest: string;
  /** The chain ID of the layer below; absent for a bottom layer. */
  parent?: string;
}

interface WritableMeta {
  imageId: string;
  chainIds: string[];
}

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
  /** How many unpack() calls under way include each chain ID. */
  private readonly inFlight = new Map<string, number>();

  constructor(private readonly opts: SnapshotterOptions) {
    this.snapshotsDir = join(opts.root, 'snapshots');
    this.containersDir = join(opts.root, 'containers');
    this.log = (opts.logger ?? silentLogger).child({ component: 'snapshot' });
  }

  /**
   * On every container's start path (twice): synchronous, as the other few-microsecond
   * file steps there, since each asynchronous one waits for a thread-pool thread, and a
   * deploy's burst keeps those busy with fsyncs (records, raft's log).
   */
  private async init(): Promise<void> {
    mkdirSync(join(this.snapshotsDir, 'l'), { recursive: true });
    mkdirSync(join(this.snapshotsDir, 'tmp'), { recursive: true });
    mkdirSync(this.containersDir, { recursive: true });
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

  /**
   * Unpacks the layers (bottom first) that are not unpacked yet, each once even across
   * calls, recording each one's parent so prepare() can walk a chain.
   */
  async unpack(
    layers: readonly UnpackLayer[],
    content: BlobSource | undefined = this.opts.content,
    opts: UnpackOptions = {},
  ): Promise<void> {
    await this.init();
    if (!content)
      throw new SkiffError('internal', 'the snapshotter has no content store to unpack layers from');
    const existed = new Set<string>();
    for (const l of layers) if (await this.hasSnapshot(l.chainId)) existed.add(l.chainId);
    for (const l of layers) this.inFlight.set(l.chainId, (this.inFlight.get(l.chainId) ?? 0) + 1);
    try {
      await this.unpackAll(layers, content, existed, opts);
    } catch (e) {
      await this.dropCreated(layers, existed);
      throw e;
    } finally {
      for (const l of layers) {
        const n = (this.inFlight.get(l.chainId) ?? 1) - 1;
        if (n > 0) this.inFlight.set(l.chainId, n);
        else this.inFlight.delete(l.chainId);
      }
    }
  }

  private async unpackAll(
    layers: readonly UnpackLayer[],
    content: BlobSource,
    existed: Set<string>,
    { ready, live }: UnpackOptions,
  ): Promise<void> {
    const budget = await this.budget(layers, existed, ready !== undefined);
    const limit = this.opts.concurrency ?? 3;
    const queue = layers.map((layer, i) => ({ layer, parent: layers[i - 1]?.chainId }));
    let stopped = false;
    const worker = async () => {
      for (let next = queue.shift(); next && !stopped; next = queue.shift()) {
        const { layer: l, parent } = next;
        // A pull hands layers over as their blobs land: unpack this one from its bytes as
        // they arrive, or wait for its blob (not for a layer already unpacked, nor one
        // another unpack is doing).
        let during: Download | undefined;
        if (ready && !existed.has(l.chainId) && !this.unpacking.has(l.chainId)) {
          const stream = live?.(l.digest);
          if (stream) during = { stream, ready: () => ready(l.digest) };
          else await ready(l.digest);
        }
        let job = this.unpacking.get(l.chainId);
        if (job) during?.stream.destroy();
        else {
          job = this.unpackLayer(l, parent, content, budget, during).finally(() =>
            this.unpacking.delete(l.chainId),
          );
          this.unpacking.set(l.chainId, job);
        }
        await job;
      }
    };
    // A layer no worker will unpack from its download lets that download go on alone
    // (it would otherwise wait for a reader): one unpacked already, or any left after a failure.
    const release = (l: UnpackLayer) => live?.(l.digest)?.destroy();
    for (const l of layers) if (existed.has(l.chainId)) release(l);
    const guarded = () =>
      worker().catch((e: unknown) => {
        stopped = true; // the other workers take no further layer
        for (const { layer } of queue.splice(0)) release(layer);
        throw e;
      });
    // Every worker settles before a failure is reported, so the caller cleans up after all of them.
    const settled = await Promise.allSettled(Array.from({ length: Math.min(limit, queue.length) }, guarded));
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /**
   * After a failed unpack, removes the layers it unpacked that nothing else needs: no other
   * unpack under way includes them and no writable snapshot sits on them. A refused image
   * (over a limit, a hostile layer) leaves no snapshot behind.
   */
  private async dropCreated(layers: readonly UnpackLayer[], existed: Set<string>): Promise<void> {
    const used = new Set<string>();
    for (const c of await this.list()) for (const id of c.chainIds) used.add(id);
    for (const l of layers) {
      if (existed.has(l.chainId) || used.has(l.chainId) || (this.inFlight.get(l.chainId) ?? 0) > 1) continue;
      if (!(await this.hasSnapshot(l.chainId))) continue;
      const short = await readFile(join(this.snapshotDir(l.chainId), 'link'), 'utf8').catch(() => '');
      if (short.trim()) await rm(join(this.snapshotsDir, 'l', short.trim()), { force: true });
      await rm(this.snapshotDir(l.chainId), { recursive: true, force: true });
    }
  }

  /**
   * What this unpack may write: the image limit, or less when the snapshots' file system
   * has less free (beyond the space kept free) — so a layer that unpacks to more than the
   * disk holds stops at the budget instead of filling the disk. Refuses at once when even
   * the compressed layers would not fit.
   */
  private async budget(
    layers: readonly UnpackLayer[],
    existed: Set<string>,
    blobsToCome: boolean,
  ): Promise<ExtractBudget> {
    const limits = { ...DEFAULT_PULL_LIMITS, ...this.opts.limits };
    let compressed = 0;
    for (const l of layers) if (!existed.has(l.chainId)) compressed += l.size ?? 0;
    const free = await checkFreeSpace(
      this.snapshotsDir,
      compressed,
      limits.minFreeBytes,
      `unpack ${layers.length} layer(s)`,
    );
    // Blobs still downloading take their share of the disk too (counted whole: some may
    // be in the store already, so this errs on the safe side).
    const usable = blobsToCome ? Math.max(0, free - compressed) : free;
    const byDisk = usable < limits.imageBytes;
    return {
      left: Math.min(usable, limits.imageBytes),
      layerBytes: limits.layerBytes,
      layerEntries: limits.layerEntries,
      exceeded: (layer) =>
        byDisk
          ? new SkiffError(
              'unavailable',
              `not enough free space to unpack layer ${layer}: the image unpacks to more than the ${formatBytes(usable)} free on the file system of ${this.snapshotsDir} (beyond the ${formatBytes(limits.minFreeBytes)} that must stay free)`,
              {
                hint: `free space there (skiff image prune), or lower the daemon setting ${PULL_LIMIT_SETTINGS.minFreeBytes}`,
              },
            )
          : new SkiffError(
              'invalid_argument',
              `image unpacks to more than ${formatBytes(limits.imageBytes)} (at layer ${layer}), the image size limit`,
              { hint: `raise the daemon setting ${PULL_LIMIT_SETTINGS.imageBytes} if the image is genuine` },
            ),
    };
  }

  private async unpackLayer(
    layer: UnpackLayer,
    parent: string | undefined,
    content: BlobSource,
    budget: ExtractBudget,
    during?: Download,
  ): Promise<void> {
    if (await this.hasSnapshot(layer.chainId)) {
      during?.stream.destroy();
      await this.recordParent(layer, parent);
      return;
    }
    const compression: Compression | undefined = layerCompression(layer.mediaType);
    if (!compression) {
      during?.stream.destroy();
      throw new SkiffError(
        'unsupported',
        `layer ${layer.digest} has unsupported media type ${layer.mediaType}`,
      );
    }
    const tmp = join(
      this.snapshotsDir,
      'tmp',
      `${hex(layer.chainId).slice(0, 16)}-${randomBytes(4).toString('hex')}`,
    );
    const fs = join(tmp, 'fs');
    const started = Date.now();
    // The download's own failure goes to the pull as it is (a digest mismatch, an interruption).
    let downloadFailure: unknown;
    const verified = during && {
      stream: during.stream,
      ready: () =>
        during.ready().catch((e: unknown) => {
          downloadFailure = e;
          throw e;
        }),
    };
    try {
      let stats: ExtractStats | undefined;
      if (verified) stats = await this.extractDuring(layer, verified, compression, fs, budget);
      if (!stats) {
        await mkdir(fs, { recursive: true, mode: 0o755 });
        stats = await this.extract(layer, content.createReadStream(layer.digest), compression, fs, budget);
      }
      const short = await this.newShortId();
      await writeFile(join(tmp, 'link'), short);
      const meta: LayerMeta = {
        chainId: layer.chainId,
        diffId: layer.diffId,
        digest: layer.digest,
        ...(parent ? { parent } : {}),
      };
      await writeFile(join(tmp, 'meta.json'), JSON.stringify(meta));
      await rename(tmp, this.snapshotDir(layer.chainId));
      await symlink(`../${hex(layer.chainId)}/fs`, join(this.snapshotsDir, 'l', short));
      this.log.debug(
        { layer: layer.digest, ms: Date.now() - started, during: during !== undefined, ...stats },
        'layer unpacked',
      );
    } catch (e) {
      await rm(tmp, { recursive: true, force: true });
      if (e instanceof SkiffError || (downloadFailure !== undefined && e === downloadFailure)) throw e;
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

  /**
   * Unpacks a layer from its download's bytes, then waits for the blob to be verified. The
   * blob's own failure wins over what unpacking its bytes said (a corrupt download is a
   * digest mismatch, not a bad tar). Undefined when the live copy broke off: the caller
   * unpacks the stored blob, into an emptied directory, with this attempt's bytes given
   * back to the budget.
   */
  private async extractDuring(
    layer: UnpackLayer,
    during: Download,
    compression: Compression,
    fs: string,
    budget: ExtractBudget,
  ): Promise<ExtractStats | undefined> {
    await mkdir(fs, { recursive: true, mode: 0o755 });
    // What this attempt took from the budget (other layers take from it meanwhile).
    let taken = 0;
    const own: ExtractBudget = {
      get left() {
        return budget.left;
      },
      set left(v: number) {
        taken += budget.left - v;
        budget.left = v;
      },
      layerBytes: budget.layerBytes,
      layerEntries: budget.layerEntries,
      exceeded: (l) => budget.exceeded(l),
    };
    let failure: unknown;
    let stats: ExtractStats | undefined;
    try {
      stats = await this.extract(layer, during.stream, compression, fs, own);
    } catch (e) {
      failure = e;
    }
    await during.ready(); // the blob's failure, if any, is the pull's
    if (failure === undefined) return stats;
    if (!(failure instanceof LiveBlobGone)) throw failure;
    budget.left += taken;
    await rm(fs, { recursive: true, force: true });
    return undefined;
  }

  private async extract(
    layer: UnpackLayer,
    source: Readable,
    compression: Compression,
    fs: string,
    budget: ExtractBudget,
  ): Promise<ExtractStats> {
    try {
      return await extractLayer(decompress(source, compression), fs, {
        layer: layer.digest,
        diffId: layer.diffId,
        scratchDir: join(this.snapshotsDir, 'tmp'),
        budget,
      });
    } finally {
      // A refused layer stops mid-stream: close the blob rather than leave it open.
      source.destroy();
    }
  }

  /** Layers unpacked before parents were recorded get theirs on their next use. */
  private async recordParent(layer: UnpackLayer, parent: string | undefined): Promise<void> {
    if (!parent) return;
    const meta = await this.layerMeta(layer.chainId);
    if (meta.parent === parent) return;
    await writeFile(join(this.snapshotDir(layer.chainId), 'meta.json'), JSON.stringify({ ...meta, parent }));
  }

  private async layerMeta(chainId: string): Promise<LayerMeta> {
    try {
      return JSON.parse(await readFile(join(this.snapshotDir(chainId), 'meta.json'), 'utf8')) as LayerMeta;
    } catch {
      throw new SkiffError('not_found', `layer snapshot ${chainId} is not unpacked`, {
        hint: 'unpack the image layers before preparing a snapshot on them',
      });
    }
  }

  /** The chain from the bottom layer up to `top`, from the recorded parents. */
  private async chainOf(top: string | undefined): Promise<string[]> {
    const chain: string[] = [];
    for (let id = top; id; ) {
      const meta = await this.layerMeta(id);
      // ChainID(L0) = DiffID(L0): any other layer without a parent lost its record.
      if (!meta.parent && meta.chainId !== meta.diffId) {
        throw new SkiffError('not_found', `layer snapshot ${id} does not record its parent`, {
          hint: 'unpack the image layers again before preparing a snapshot on them',
        });
      }
      chain.unshift(id);
      id = meta.parent;
    }
    return chain;
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
        hint: 'unpack the image layers before preparing a snapshot on them',
      });
    }
  }

  private containerDir(id: string): string {
    if (!CONTAINER_ID.test(id)) throw new SkiffError('invalid_argument', `invalid container ID '${id}'`);
    return join(this.containersDir, id);
  }

  /** Where the caller mounts the writable snapshot `key`: inside its directory, so remove() takes it along. */
  rootfsPath(key: string): string {
    return join(this.containerDir(key), 'rootfs');
  }

  /**
   * Makes the writable snapshot `key` over the chain ending in `parent` (none: an empty
   * rootfs) and returns the mounts that make it a root filesystem. Idempotent: preparing
   * an existing key for the same image answers its mounts again.
   */
  async prepare(key: string, parent: string | undefined, opts: { imageId?: string } = {}): Promise<Mount[]> {
    await this.init();
    const dir = this.containerDir(key);
    const imageId = opts.imageId ?? '';
    const existing = await this.readMeta(key);
    if (existing && existing.imageId !== imageId) {
      throw new SkiffError(
        'conflict',
        `container ${key} already has a rootfs from image ${existing.imageId}`,
      );
    }
    const chain = await this.chainOf(parent);
    const lowers: string[] = [];
    for (const chainId of [...chain].reverse()) lowers.push(`l/${await this.shortIdOf(chainId)}`);
    if (lowers.length === 0) {
      await mkdir(join(this.snapshotsDir, 'empty'), { recursive: true });
      lowers.push('empty');
    }
    const options = [
      `lowerdir=${lowers.join(':')}`,
      `upperdir=${join(dir, 'upper')}`,
      `workdir=${join(dir, 'work')}`,
    ];
    if (options.join(',').length > MAX_MOUNT_OPTIONS) {
      throw new SkiffError(
        'unsupported',
        `image ${imageId || parent} has too many layers (${lowers.length}) for one overlay mount`,
      );
    }
    if (!existing) {
      // Synchronous, as init().
      mkdirSync(join(dir, 'upper'), { recursive: true });
      mkdirSync(join(dir, 'work'), { recursive: true });
      mkdirSync(join(dir, 'rootfs'), { recursive: true });
      writeFileSync(
        join(dir, 'snapshot.json'),
        JSON.stringify({ imageId, chainIds: chain } satisfies WritableMeta),
      );
      this.log.debug({ key, layers: chain.length }, 'snapshot prepared');
    }
    return [{ type: 'overlay', source: 'overlay', options, cwd: this.snapshotsDir }];
  }

  /**
   * Deletes the writable snapshot `key`; idempotent. Its caller unmounts it first; a
   * rootfs a crash left mounted is unmounted here rather than deleted through.
   */
  async remove(key: string): Promise<void> {
    await unmountAll(this.rootfsPath(key));
    await rm(this.containerDir(key), { recursive: true, force: true });
  }

  private async readMeta(id: string): Promise<WritableMeta | undefined> {
    try {
      return JSON.parse(readFileSync(join(this.containerDir(id), 'snapshot.json'), 'utf8')) as WritableMeta;
    } catch {
      return undefined;
    }
  }

  /**
   * Keys of every writable snapshot on disk, whole or not (a crash may have left one
   * half made): what an agent at start compares with what it was assigned.
   */
  async keys(): Promise<string[]> {
    const names = await readdir(this.containersDir).catch(() => [] as string[]);
    return names.filter((n) => CONTAINER_ID.test(n)).sort();
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
   * Deletes unpacked layers that neither `keep` (the chain IDs of the images still
   * present) nor any writable snapshot uses, and leftovers of interrupted unpacks.
   */
  async gc(keep: Iterable<string>): Promise<{ snapshotsRemoved: number; bytesFreed: number }> {
    await this.init();
    const used = new Set<string>(keep);
    for (const c of await this.list()) for (const id of c.chainIds) used.add(id);
    let snapshotsRemoved = 0;
    let bytesFreed = 0;
    for (const chainId of await this.listSnapshots()) {
      // Also the layers of an unpack under way: a pull unpacks its first layers while the
      // later ones download, and records the image only at the end.
      if (used.has(chainId) || this.unpacking.has(chainId) || this.inFlight.has(chainId)) continue;
      bytesFreed += await diskUsage(this.snapshotDir(chainId));
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
    return { snapshotsRemoved, bytesFreed };
  }
}
