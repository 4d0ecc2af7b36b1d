// The node's image store: pulls images into the content store, keeps their metadata,
// tags, removes, imports rootfs tarballs, pushes, logs in, and collects garbage.
// Concurrent pulls of one image share one pull; a blob several pulls need is fetched once.
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { type Logger, SkiffError, silentLogger } from '../../lib/index.js';
import { defaultAuthFile, lookupCredentials, storeCredentials } from './auth.js';
import { ContentStore, mismatch } from './content-store.js';
import { spawnDecompressor } from './decompress.js';
import { chainIds, digestHex, sha256 } from './digest.js';
import { Distribution } from './distribution.js';
import { type ImageLayer, type ImageRecord, ImageRecords } from './image-records.js';
import { Limiter } from './limiter.js';
import {
  checkManifestAgainstConfig,
  type Descriptor,
  type ImageManifest,
  MediaType,
  type OciImageConfig,
  type Platform,
  parseImageConfig,
  parseManifest,
} from './manifest.js';
import { hostPlatform, selectManifest } from './platform.js';
import { formatReference, type ImageReference, parseReference, repositoryName } from './reference.js';
import { RegistryClient, type RegistryOptions } from './registry-client.js';

export type { ImageLayer, ImageRecord };

export interface ImageServiceOptions {
  /** The node's state root, e.g. /var/lib/skiff/<node>: blobs go to `content/`, metadata to `images.json`. */
  root: string;
  registries?: RegistryOptions;
  /** Docker-format credentials file (default $DOCKER_CONFIG/config.json or ~/.docker/config.json). */
  authFile?: string;
  /** Layers downloaded at once, over all pulls (default 3). */
  concurrency?: number;
  logger?: Logger;
  /**
   * Unpacks a pulled image before it is recorded (the snapshotter). When it fails the
   * pull fails, the image is not recorded and the blobs it brought are removed.
   */
  unpacker?: Unpacker;
}

export interface Unpacker {
  ensureLayers(image: ImageRecord, content: ContentStore): Promise<void>;
}

export type PullEvent =
  | {
      type: 'resolved';
      ref: string;
      digest: string;
      platform: Platform;
      layers: { digest: string; size: number }[];
    }
  | {
      type: 'layer';
      digest: string;
      status: 'exists' | 'waiting' | 'downloading' | 'verifying' | 'done';
      current: number;
      total: number;
    }
  | { type: 'unpacking'; ref: string }
  | { type: 'done'; ref: string; id: string };

export type PushEvent =
  | { type: 'blob'; digest: string; status: 'exists' | 'pushing' | 'done'; size: number }
  | { type: 'done'; ref: string; digest: string };

export interface PullOptions {
  onProgress?: (event: PullEvent) => void;
  /** Platform to pick from an index (default: this host's). */
  platform?: Platform;
}

export interface RemoveResult {
  untagged: string[];
  deleted: string[];
}

const ID = /^(?:sha256:)?([a-f0-9]{4,64})$/;

export class ImageService {
  readonly content: ContentStore;
  private readonly records: ImageRecords;
  private readonly client: RegistryClient;
  private readonly dist: Distribution;
  private readonly limiter: Limiter;
  private readonly log: Logger;
  private readonly authFile: string;
  private readonly pulls = new Map<
    string,
    { promise: Promise<ImageRecord>; listeners: Set<(e: PullEvent) => void> }
  >();
  private readonly blobs = new Map<string, Promise<void>>();
  private initialized: Promise<void> | undefined;
  private cache: ImageRecord[] = [];

  constructor(readonly opts: ImageServiceOptions) {
    this.content = new ContentStore(join(opts.root, 'content'));
    this.records = new ImageRecords(join(opts.root, 'images.json'));
    this.authFile = opts.authFile ?? defaultAuthFile();
    this.log = (opts.logger ?? silentLogger).child({ component: 'image' });
    this.limiter = new Limiter(opts.concurrency ?? 3);
    this.client = new RegistryClient({
      registries: opts.registries,
      credentials: (registry) => lookupCredentials(this.authFile, registry),
      logger: this.log,
    });
    this.dist = new Distribution(this.client);
  }

  /** Creates the store directories and loads the metadata; called by every operation. */
  init(): Promise<void> {
    this.initialized ??= (async () => {
      await this.content.init();
      this.cache = await this.records.load();
    })();
    return this.initialized;
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  // --- queries -------------------------------------------------------------------

  /** Looks an image up by reference (tag or digest), full or short ID; synchronous on the loaded metadata. */
  get(refOrId: string): ImageRecord | undefined {
    return findImage(this.cache, refOrId);
  }

  /** Reloads metadata from disk (another process may have changed it) and looks up. */
  async lookup(refOrId: string): Promise<ImageRecord | undefined> {
    await this.init();
    this.cache = await this.records.load();
    return this.get(refOrId);
  }

  list(): ImageRecord[] {
    return [...this.cache];
  }

  async refresh(): Promise<ImageRecord[]> {
    await this.init();
    this.cache = await this.records.load();
    return this.list();
  }

  // --- pull ------------------------------------------------------------------------

  /** Pulls an image; concurrent pulls of the same reference and platform share one. */
  pull(ref: string, opts: PullOptions = {}): Promise<ImageRecord> {
    const parsed = parseReference(ref);
    const platform = opts.platform ?? hostPlatform();
    const key = `${formatReference(parsed)} ${platform.os}/${platform.architecture}/${platform.variant ?? ''}`;
    const running = this.pulls.get(key);
    if (running) {
      // A later caller joins the pull under way and hears its events from now on.
      if (opts.onProgress) running.listeners.add(opts.onProgress);
      return running.promise;
    }
    const listeners = new Set<(e: PullEvent) => void>();
    if (opts.onProgress) listeners.add(opts.onProgress);
    const emit = (e: PullEvent) => {
      for (const l of listeners) l(e);
    };
    const promise = this.doPull(parsed, platform, emit).finally(() => this.pulls.delete(key));
    this.pulls.set(key, { promise, listeners });
    return promise;
  }

  private async doPull(
    ref: ImageReference,
    platform: Platform,
    emit: (e: PullEvent) => void,
  ): Promise<ImageRecord> {
    await this.init();
    const name = formatReference(ref);
    const log = this.log.child({ ref: name });
    const started = Date.now();
    const top = await this.dist.getManifest(ref, ref.digest ?? ref.tag ?? 'latest');
    const topDigest = sha256(top.bytes);
    if (ref.digest && topDigest !== ref.digest) throw mismatch(ref.digest, topDigest);
    if (top.digest?.startsWith('sha256:') && top.digest !== topDigest) throw mismatch(top.digest, topDigest);
    const parsedTop = parseManifest(top.bytes, top.contentType, name);

    let manifest: ImageManifest;
    let manifestDigest = topDigest;
    let manifestMediaType = parsedTop.mediaType;
    let manifestBytes = top.bytes;
    let indexDigest: string | undefined;
    if (parsedTop.kind === 'index') {
      indexDigest = topDigest;
      const desc = selectManifest(parsedTop.index, platform, name);
      const fetched = await this.dist.getManifest(ref, desc.digest);
      const got = sha256(fetched.bytes);
      if (got !== desc.digest) throw mismatch(desc.digest, got);
      const parsed = parseManifest(
        fetched.bytes,
        fetched.contentType ?? desc.mediaType,
        `${name}@${desc.digest}`,
      );
      if (parsed.kind !== 'manifest') {
        throw new SkiffError(
          'unsupported',
          `index ${name} points to another index for ${desc.digest}; nested indexes are not supported`,
        );
      }
      manifest = parsed.manifest;
      manifestDigest = desc.digest;
      manifestMediaType = parsed.mediaType;
      manifestBytes = fetched.bytes;
    } else {
      manifest = parsedTop.manifest;
    }

    const configDesc = manifest.config;
    await this.fetchBlob(ref, configDesc, () => undefined);
    const config = parseImageConfig(await this.content.read(configDesc.digest), configDesc.digest);
    checkManifestAgainstConfig(manifest, config, name);
    emit({
      type: 'resolved',
      ref: name,
      digest: topDigest,
      platform: {
        os: config.os,
        architecture: config.architecture,
        ...(config.variant ? { variant: config.variant } : {}),
      },
      layers: manifest.layers.map((l) => ({ digest: l.digest, size: l.size })),
    });
    // Settle every download before failing, so a failed pull leaves no writer behind.
    const fetched = await Promise.allSettled(
      manifest.layers.map((layer) =>
        this.fetchBlob(ref, layer, (status, current) =>
          emit({ type: 'layer', digest: layer.digest, status, current, total: layer.size }),
        ),
      ),
    );
    const failed = fetched.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    // Manifests land last: a manifest in the store means its blobs are there too.
    await this.content.writeBuffer(manifestBytes, manifestDigest);
    if (indexDigest) await this.content.writeBuffer(top.bytes, indexDigest);

    const chains = chainIds(config.rootfs.diff_ids);
    const layers: ImageLayer[] = manifest.layers.map((l, i) => ({
      digest: l.digest,
      diffId: config.rootfs.diff_ids[i]!,
      chainId: chains[i]!,
      size: l.size,
      mediaType: l.mediaType,
    }));
    const draft: ImageRecord = {
      id: configDesc.digest,
      repoTags: [],
      repoDigests: [`${repositoryName(ref)}@${topDigest}`],
      config,
      layers,
      platform: {
        os: config.os,
        architecture: config.architecture,
        ...(config.variant ? { variant: config.variant } : {}),
      },
      size: layers.reduce((n, l) => n + l.size, 0),
      manifestDigest,
      manifestMediaType,
      ...(indexDigest ? { indexDigest } : {}),
      created: new Date().toISOString(),
    };
    if (this.opts.unpacker) {
      emit({ type: 'unpacking', ref: name });
      try {
        await this.opts.unpacker.ensureLayers(draft, this.content);
      } catch (e) {
        await this.dropUnreferenced([
          configDesc.digest,
          manifestDigest,
          ...(indexDigest ? [indexDigest] : []),
          ...layers.map((l) => l.digest),
        ]);
        throw e;
      }
    }
    const record = await this.saveImage(
      draft,
      ref.tag ? formatReference({ ...ref, digest: undefined }) : undefined,
    );
    log.info({ imageId: record.id, ms: Date.now() - started, layers: layers.length }, 'image pulled');
    emit({ type: 'done', ref: name, id: record.id });
    return record;
  }

  /** Deletes those of `digests` no recorded image references (after a failed pull). */
  private async dropUnreferenced(digests: string[]): Promise<void> {
    const used = referencedBlobs(await this.records.load());
    for (const d of digests) if (!used.has(d)) await this.content.delete(d);
  }

  /** Fetches one blob into the content store, once even when several pulls want it. */
  private fetchBlob(
    ref: ImageReference,
    desc: Descriptor,
    progress: (status: 'exists' | 'waiting' | 'downloading' | 'verifying' | 'done', current: number) => void,
  ): Promise<void> {
    const existing = this.blobs.get(desc.digest);
    if (existing) {
      progress('waiting', 0);
      return existing.then(() => progress('done', desc.size));
    }
    const job = (async () => {
      if ((await this.content.size(desc.digest)) === desc.size) {
        progress('exists', desc.size);
        return;
      }
      progress('waiting', 0);
      await this.limiter.run(async () => {
        progress('downloading', 0);
        let last = 0;
        // A dropped connection is retried (twice), resuming from the bytes already held.
        for (let attempt = 1; ; attempt++) {
          try {
            await this.content.ingest(
              desc.digest,
              desc.size,
              { open: (offset) => this.dist.openBlob(ref, desc.digest, offset) },
              (have) => {
                // one event per ~256 KiB keeps a 200 MB pull at under a thousand events per layer
                if (have - last >= 262_144 || have === desc.size) {
                  last = have;
                  progress('downloading', have);
                }
              },
            );
            break;
          } catch (e) {
            if (attempt >= 3 || !(e instanceof SkiffError) || e.code !== 'unavailable') throw e;
            this.log.warn(
              { digest: desc.digest, attempt, err: e.message },
              'blob download interrupted; resuming',
            );
          }
        }
      });
      progress('done', desc.size);
    })().finally(() => this.blobs.delete(desc.digest));
    this.blobs.set(desc.digest, job);
    return job;
  }

  /** Stores a record, merging with an existing one of the same ID and moving `tag` to it. */
  private async saveImage(record: ImageRecord, tag: string | undefined): Promise<ImageRecord> {
    const saved = await this.records.update((images) => {
      if (tag) for (const img of images) img.repoTags = img.repoTags.filter((t) => t !== tag);
      let target = images.find((i) => i.id === record.id);
      if (target) {
        target.repoDigests = unique([...target.repoDigests, ...record.repoDigests]);
        if (!(target.layers.length === record.layers.length && target.manifestDigest)) {
          Object.assign(target, { layers: record.layers, manifestDigest: record.manifestDigest });
        }
      } else {
        target = record;
        images.push(target);
      }
      if (tag) target.repoTags = unique([...target.repoTags, tag]);
      return structuredClone(target);
    });
    this.cache = await this.records.load();
    return saved;
  }

  // --- tag, remove -----------------------------------------------------------------

  async tag(source: string, target: string): Promise<ImageRecord> {
    await this.init();
    const dst = parseReference(target);
    if (dst.digest) throw new SkiffError('invalid_argument', `cannot tag with a digest: ${target}`);
    const tag = formatReference(dst);
    const result = await this.records.update((images) => {
      const img = findImage(images, source);
      if (!img) throw noSuchImage(source);
      for (const other of images) other.repoTags = other.repoTags.filter((t) => t !== tag);
      img.repoTags = unique([...img.repoTags, tag]);
      return structuredClone(img);
    });
    this.cache = await this.records.load();
    return result;
  }

  /**
   * Removes a tag; the image itself goes when its last tag goes or when named by ID.
   * Blobs stay until gc().
   */
  async remove(ref: string, opts: { force?: boolean } = {}): Promise<RemoveResult> {
    await this.init();
    const result = await this.records.update((images) => {
      const img = findImage(images, ref);
      if (!img) throw noSuchImage(ref);
      const out: RemoveResult = { untagged: [], deleted: [] };
      const byId = ID.test(ref) && !looksLikeName(ref, img);
      if (!byId) {
        const parsed = parseReference(ref);
        if (parsed.digest) {
          const name = `${repositoryName(parsed)}@${parsed.digest}`;
          img.repoDigests = img.repoDigests.filter((d) => d !== name);
          out.untagged.push(name);
        } else {
          const tag = formatReference(parsed);
          img.repoTags = img.repoTags.filter((t) => t !== tag);
          out.untagged.push(tag);
        }
        if (img.repoTags.length > 0) return out;
      } else if (img.repoTags.length > 1 && !opts.force) {
        throw new SkiffError(
          'conflict',
          `image ${digestHex(img.id).slice(0, 12)} has several tags (${img.repoTags.join(', ')})`,
          {
            hint: 'remove it by tag, or use --force to remove every tag',
          },
        );
      } else {
        out.untagged.push(...img.repoTags);
      }
      images.splice(images.indexOf(img), 1);
      out.deleted.push(img.id);
      return out;
    });
    this.cache = await this.records.load();
    return result;
  }

  // --- import ----------------------------------------------------------------------

  /** Makes a one-layer image from a rootfs tarball (plain, gzip or zstd) and tags it. */
  async importRootfs(
    tarball: string,
    ref: string,
    opts: { config?: OciImageConfig['config']; platform?: Platform } = {},
  ): Promise<ImageRecord> {
    await this.init();
    const target = parseReference(ref);
    if (target.digest) throw new SkiffError('invalid_argument', `import needs a tag, not a digest: ${ref}`);
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(tarball);
    } catch {
      throw new SkiffError('not_found', `cannot read ${tarball}: no such file`);
    }
    if (!info.isFile()) throw new SkiffError('invalid_argument', `${tarball} is not a file`);
    const compression = await sniffCompression(tarball);
    const diffId = await uncompressedDigest(tarball, compression);
    const blobDigest = compression === 'none' ? diffId : await fileDigest(tarball);
    const mediaType =
      compression === 'gzip'
        ? MediaType.ociLayerGzip
        : compression === 'zstd'
          ? MediaType.ociLayerZstd
          : MediaType.ociLayer;
    await this.content.ingest(blobDigest, info.size, {
      open: async () => ({ body: createReadStream(tarball), offset: 0 }),
    });
    const platform = opts.platform ?? hostPlatform();
    const created = new Date().toISOString();
    const config: OciImageConfig = {
      created,
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: opts.config ?? {},
      rootfs: { type: 'layers', diff_ids: [diffId] },
      history: [{ created, created_by: `skiff image import ${tarball}` }],
    };
    const configBytes = Buffer.from(JSON.stringify(config));
    const configDigest = await this.content.writeBuffer(configBytes);
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: configDigest, size: configBytes.length },
      layers: [{ mediaType, digest: blobDigest, size: info.size }],
    };
    const manifestBytes = Buffer.from(JSON.stringify(manifest));
    const manifestDigest = await this.content.writeBuffer(manifestBytes);
    const draft: ImageRecord = {
      id: configDigest,
      repoTags: [],
      repoDigests: [],
      config,
      layers: [{ digest: blobDigest, diffId, chainId: diffId, size: info.size, mediaType }],
      platform,
      size: info.size,
      manifestDigest,
      manifestMediaType: MediaType.ociManifest,
      created,
    };
    if (this.opts.unpacker) {
      // Unpacking checks the tarball as a pull checks a layer: a hostile one is refused.
      try {
        await this.opts.unpacker.ensureLayers(draft, this.content);
      } catch (e) {
        await this.dropUnreferenced([blobDigest, configDigest, manifestDigest]);
        throw e;
      }
    }
    return this.saveImage(draft, formatReference(target));
  }

  // --- push ------------------------------------------------------------------------

  /** Pushes a local image to the registry its tag names. */
  async push(ref: string, opts: { onProgress?: (e: PushEvent) => void } = {}): Promise<{ digest: string }> {
    await this.init();
    const parsed = parseReference(ref);
    if (!parsed.tag) throw new SkiffError('invalid_argument', `push needs a tag: ${ref}`);
    const tag = formatReference(parsed);
    const img = (await this.lookup(tag)) ?? undefined;
    if (!img) throw noSuchImage(ref, 'tag the image with `skiff image tag SOURCE ' + ref + '` first');
    const emit = opts.onProgress ?? (() => undefined);
    const blobs = [
      ...img.layers.map((l) => ({ digest: l.digest, size: l.size })),
      { digest: img.id, size: -1 },
    ];
    await Promise.all(
      blobs.map((b) =>
        this.limiter.run(async () => {
          const size = (await this.content.size(b.digest)) ?? -1;
          if (size < 0) {
            throw new SkiffError(
              'not_found',
              `blob ${b.digest} of ${ref} is missing from the content store`,
              {
                hint: 'pull the image again before pushing it',
              },
            );
          }
          if (await this.dist.blobExists(parsed, b.digest)) {
            emit({ type: 'blob', digest: b.digest, status: 'exists', size });
            return;
          }
          emit({ type: 'blob', digest: b.digest, status: 'pushing', size });
          await this.dist.uploadBlob(parsed, b.digest, size, () => this.content.createReadStream(b.digest));
          emit({ type: 'blob', digest: b.digest, status: 'done', size });
        }),
      ),
    );
    const manifestBytes = await this.content.read(img.manifestDigest);
    await this.dist.putManifest(parsed, parsed.tag, manifestBytes, img.manifestMediaType);
    const repoDigest = `${repositoryName(parsed)}@${img.manifestDigest}`;
    await this.records.update((images) => {
      const target = images.find((i) => i.id === img.id);
      if (target) target.repoDigests = unique([...target.repoDigests, repoDigest]);
    });
    this.cache = await this.records.load();
    emit({ type: 'done', ref: tag, digest: img.manifestDigest });
    return { digest: img.manifestDigest };
  }

  // --- login -----------------------------------------------------------------------

  /** Checks the credentials against the registry, then stores them in the auth file. */
  async login(registry: string, username: string, password: string): Promise<void> {
    if (!username) throw new SkiffError('invalid_argument', 'login needs a user name');
    const ref = parseReference(`${registry}/skiff-login-check`);
    const probe = new RegistryClient({
      registries: this.opts.registries,
      credentials: async () => ({ username, password }),
    });
    try {
      await probe.verifyLogin(ref.registry);
    } finally {
      await probe.close();
    }
    await storeCredentials(this.authFile, ref.registry, { username, password });
  }

  // --- gc --------------------------------------------------------------------------

  /** Removes blobs no image references, and partial downloads when nothing is pulling. */
  async gc(): Promise<{ blobsRemoved: number; bytesFreed: number }> {
    await this.init();
    const images = await this.refresh();
    const keep = referencedBlobs(images);
    let blobsRemoved = 0;
    let bytesFreed = 0;
    for (const digest of await this.content.list()) {
      if (keep.has(digest) || this.blobs.has(digest)) continue;
      bytesFreed += (await this.content.size(digest)) ?? 0;
      await this.content.delete(digest);
      blobsRemoved++;
    }
    if (this.pulls.size === 0) bytesFreed += await this.content.clearIngest();
    return { blobsRemoved, bytesFreed };
  }
}

function referencedBlobs(images: readonly ImageRecord[]): Set<string> {
  const keep = new Set<string>();
  for (const img of images) {
    keep.add(img.id);
    keep.add(img.manifestDigest);
    if (img.indexDigest) keep.add(img.indexDigest);
    for (const l of img.layers) keep.add(l.digest);
  }
  return keep;
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}

function noSuchImage(ref: string, hint?: string): SkiffError {
  return new SkiffError('not_found', `no such image: ${ref}`, {
    hint: hint ?? 'list local images with `skiff image ls`',
  });
}

// `abcd` could be a short ID or an image named abcd: a tag match wins, as in docker.
function looksLikeName(ref: string, img: ImageRecord): boolean {
  try {
    const tag = formatReference(parseReference(ref));
    return img.repoTags.includes(tag);
  } catch {
    return false;
  }
}

/** Finds an image by tag, repo digest, manifest digest, full or unique short ID. */
export function findImage(images: readonly ImageRecord[], refOrId: string): ImageRecord | undefined {
  let parsed: ImageReference | undefined;
  try {
    parsed = parseReference(refOrId);
  } catch {
    parsed = undefined;
  }
  if (parsed) {
    if (parsed.digest) {
      const name = `${repositoryName(parsed)}@${parsed.digest}`;
      const hit = images.find(
        (i) => i.repoDigests.includes(name) || (i.manifestDigest === parsed.digest && sameRepo(i, parsed)),
      );
      if (hit) return hit;
    } else {
      const tag = formatReference(parsed);
      const hit = images.find((i) => i.repoTags.includes(tag));
      if (hit) return hit;
    }
  }
  const m = ID.exec(refOrId);
  if (m) {
    const hex = m[1]!;
    const hits = images.filter((i) => digestHex(i.id).startsWith(hex));
    if (hits.length === 1) return hits[0];
  }
  return undefined;
}

function sameRepo(img: ImageRecord, ref: ImageReference): boolean {
  const repo = repositoryName(ref);
  return (
    img.repoTags.some((t) => t.startsWith(`${repo}:`)) ||
    img.repoDigests.some((d) => d.startsWith(`${repo}@`))
  );
}

async function sniffCompression(path: string): Promise<'gzip' | 'zstd' | 'none'> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(512);
    const { bytesRead } = await fh.read(buf, 0, 512, 0);
    if (bytesRead >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) return 'gzip';
    if (bytesRead >= 4 && buf.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
    if (bytesRead < 512 || buf.toString('latin1', 257, 262) !== 'ustar') {
      throw new SkiffError('invalid_argument', `${path} is not a tar archive (plain, gzip or zstd)`);
    }
    return 'none';
  } finally {
    await fh.close();
  }
}

async function fileDigest(path: string): Promise<string> {
  const { createHash } = await import('node:crypto');
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

async function uncompressedDigest(path: string, compression: 'gzip' | 'zstd' | 'none'): Promise<string> {
  if (compression === 'none') return fileDigest(path);
  const { createHash } = await import('node:crypto');
  const hash = createHash('sha256');
  const input = createReadStream(path);
  const stream = compression === 'gzip' ? input.pipe(createGunzip()) : spawnDecompressor(input, 'zstd');
  let first = true;
  try {
    for await (const chunk of stream) {
      const buf = chunk as Buffer;
      if (first && buf.length >= 262 && buf.toString('latin1', 257, 262) !== 'ustar') {
        throw new SkiffError('invalid_argument', `${path} does not hold a tar archive`);
      }
      first = false;
      hash.update(buf);
    }
  } catch (e) {
    if (e instanceof SkiffError) throw e;
    throw new SkiffError(
      'invalid_argument',
      `${path} is not a valid ${compression} file: ${(e as Error).message}`,
    );
  }
  return `sha256:${hash.digest('hex')}`;
}
