// Pulling an image: resolve the reference to a platform manifest, fetch its config and
// layers into the content store, unpack the layers (the snapshotter), then record the
// image. Concurrent pulls of one reference and platform share one pull.
import type { Readable } from 'node:stream';
import { type Logger, type PullProgressEvent, SkiffError } from '../../lib/index.js';
import type { BlobFetcher } from './blob-fetcher.js';
import { type ContentStore, mismatch } from './content-store.js';
import { chainIds, sha256 } from './digest.js';
import type { ContentSource, Distribution } from './distribution.js';
import { dropUnreferenced } from './gc.js';
import type { ImageLayer, ImageRecord, ImageRecords } from './image-records.js';
import {
  checkFreeSpace,
  DEFAULT_PULL_LIMITS,
  formatBytes,
  PULL_LIMIT_SETTINGS,
  type PullLimits,
} from './limits.js';
import { LiveBlob } from './live-blob.js';
import {
  checkManifestAgainstConfig,
  type ImageManifest,
  type Platform,
  parseImageConfig,
  parseManifest,
} from './manifest.js';
import { hostPlatform, selectManifest } from './platform.js';
import { formatReference, type ImageReference, parseReference, repositoryName } from './reference.js';

/**
 * Unpacks an image's layers, keyed by chain ID (the snapshotter). When it fails, the
 * pull or import fails, the image is not recorded and the blobs it brought are removed.
 */
export interface Unpacker {
  unpack(
    layers: readonly ImageLayer[],
    content: ContentStore,
    opts?: {
      /** Resolves once the layer's blob is in `content` (rejects if it will not be): unpack it then. */
      ready?: (digest: string) => Promise<void>;
      /**
       * The layer's bytes as its download receives them, from the first (undefined when
       * not to be had): unpack from them meanwhile, and keep the result only once `ready`
       * resolved (the blob verified).
       */
      live?: (digest: string) => Readable | undefined;
    },
  ): Promise<void>;
}

/** A pull's progress, as the node's API sends it on (lib's wire contract). */
export type PullEvent = PullProgressEvent;

export interface PullOptions {
  onProgress?: (event: PullEvent) => void;
  /** Platform to pick from an index (default: this host's). */
  platform?: Platform;
  /** Where to read the image from (default: its registry); other nodes, for one. */
  from?: ContentSource;
}

export interface PullerDeps {
  content: ContentStore;
  records: ImageRecords;
  dist: Distribution;
  blobs: BlobFetcher;
  log: Logger;
  unpacker?: Unpacker;
  /** What a pull may bring (default DEFAULT_PULL_LIMITS). */
  limits?: PullLimits;
  /** Told of every finished pull (metrics): bytes downloaded (blobs already here excluded), time, outcome. */
  onPulled?: (p: PullOutcome) => void;
}

export interface PullOutcome {
  ref: string;
  bytes: number;
  seconds: number;
  ok: boolean;
}

export class Puller {
  private readonly running = new Map<
    string,
    { promise: Promise<ImageRecord>; listeners: Set<(e: PullEvent) => void> }
  >();

  constructor(private readonly deps: PullerDeps) {}

  /** Blobs of the pulls under way (how many pulls want each): a GC meanwhile keeps them. */
  private readonly wanted = new Map<string, number>();

  /** Whether any pull is under way. */
  pulling(): boolean {
    return this.running.size > 0;
  }

  /** Whether a pull under way has fetched or will fetch this blob (not recorded yet). */
  holds(digest: string): boolean {
    return this.wanted.has(digest);
  }

  /** Pulls an image; concurrent pulls of the same reference and platform share one. */
  pull(ref: string, opts: PullOptions = {}): Promise<ImageRecord> {
    const parsed = parseReference(ref);
    const platform = opts.platform ?? hostPlatform();
    const key = `${formatReference(parsed)} ${platform.os}/${platform.architecture}/${platform.variant ?? ''}${opts.from ? ' peers' : ''}`;
    const running = this.running.get(key);
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
    const started = performance.now();
    const downloaded = new Map<string, number>();
    const counting = (e: PullEvent) => {
      if (e.type === 'layer' && e.status === 'downloading') downloaded.set(e.digest, e.total);
      emit(e);
    };
    const outcome = (ok: boolean) =>
      this.deps.onPulled?.({
        ref: formatReference(parsed),
        bytes: [...downloaded.values()].reduce((a, b) => a + b, 0),
        seconds: (performance.now() - started) / 1000,
        ok,
      });
    const held: string[] = [];
    const promise = this.run(parsed, platform, counting, opts.from, held)
      .then(
        (r) => {
          outcome(true);
          return r;
        },
        (e: unknown) => {
          outcome(false);
          throw e;
        },
      )
      .finally(() => {
        this.running.delete(key);
        for (const d of held) {
          const n = (this.wanted.get(d) ?? 1) - 1;
          if (n > 0) this.wanted.set(d, n);
          else this.wanted.delete(d);
        }
      });
    this.running.set(key, { promise, listeners });
    return promise;
  }

  private async run(
    ref: ImageReference,
    platform: Platform,
    emit: (e: PullEvent) => void,
    from: ContentSource | undefined,
    held: string[],
  ): Promise<ImageRecord> {
    const { content, blobs } = this.deps;
    const dist = from ?? this.deps.dist;
    const name = formatReference(ref);
    const log = this.deps.log.child({ ref: name });
    const started = Date.now();
    const top = await dist.getManifest(ref, ref.digest ?? ref.tag ?? 'latest');
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
      const fetched = await dist.getManifest(ref, desc.digest);
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

    const limits = this.deps.limits ?? DEFAULT_PULL_LIMITS;
    const configDesc = manifest.config;
    if (configDesc.size > limits.configBytes) {
      throw new SkiffError(
        'invalid_argument',
        `the config of ${name} is ${formatBytes(configDesc.size)}, over the ${formatBytes(limits.configBytes)} limit`,
        {
          hint: `a real image config is a few KiB; raise the daemon setting ${PULL_LIMIT_SETTINGS.configBytes} if this one is genuine`,
        },
      );
    }
    // What is not in the store yet must fit on its file system before any byte is fetched.
    let needed = 0;
    for (const d of [configDesc, ...manifest.layers]) if (!(await content.has(d.digest))) needed += d.size;
    await checkFreeSpace(content.root, needed, limits.minFreeBytes, `pull ${name}`);
    // Until the image is recorded, a GC keeps its blobs (the first may be in long before the last).
    const own = [configDesc.digest, manifestDigest, ...(indexDigest ? [indexDigest] : [])];
    for (const d of [...own, ...manifest.layers.map((l) => l.digest)]) {
      held.push(d);
      this.wanted.set(d, (this.wanted.get(d) ?? 0) + 1);
    }
    await blobs.fetch(ref, configDesc, () => undefined, dist);
    const config = parseImageConfig(await content.read(configDesc.digest), configDesc.digest);
    checkManifestAgainstConfig(manifest, config, name);
    const imagePlatform: Platform = {
      os: config.os,
      architecture: config.architecture,
      ...(config.variant ? { variant: config.variant } : {}),
    };
    emit({
      type: 'resolved',
      ref: name,
      digest: topDigest,
      platform: imagePlatform,
      layers: manifest.layers.map((l) => ({ digest: l.digest, size: l.size })),
    });
    const chains = chainIds(config.rootfs.diff_ids);
    const layers: ImageLayer[] = manifest.layers.map((l, i) => ({
      digest: l.digest,
      diffId: config.rootfs.diff_ids[i]!,
      chainId: chains[i]!,
      size: l.size,
      mediaType: l.mediaType,
    }));
    // With an unpacker, each layer is unpacked from its bytes as they arrive (no second
    // read of the blob), and kept once its blob is verified.
    const unpacker = this.deps.unpacker;
    const live = new Map(unpacker ? manifest.layers.map((l) => [l.digest, new LiveBlob(l.digest)]) : []);
    const downloads = new Map(
      manifest.layers.map((layer) => [
        layer.digest,
        blobs.fetch(
          ref,
          layer,
          (status, current) =>
            emit({ type: 'layer', digest: layer.digest, status, current, total: layer.size }),
          dist,
          live.get(layer.digest),
        ),
      ]),
    );
    const unpacked = unpacker
      ? settle(
          unpacker.unpack(layers, content, {
            ready: (digest) => downloads.get(digest)!,
            live: (digest) => live.get(digest)?.open(),
          }),
        )
      : Promise.resolve(undefined);
    // Settle every download (and the unpack) before failing, so a failed pull leaves no
    // writer behind; a failed download fails the unpack too, which removes what it made.
    const fetched = await Promise.allSettled(downloads.values());
    const failed = fetched.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await unpacked;
      throw failed.reason;
    }
    // Manifests land last: a manifest in the store means its blobs are there too.
    await content.writeBuffer(manifestBytes, manifestDigest);
    if (indexDigest) await content.writeBuffer(top.bytes, indexDigest);

    const draft: ImageRecord = {
      id: configDesc.digest,
      repoTags: [],
      repoDigests: [`${repositoryName(ref)}@${topDigest}`],
      config,
      layers,
      platform: imagePlatform,
      size: layers.reduce((n, l) => n + l.size, 0),
      manifestDigest,
      manifestMediaType,
      ...(indexDigest ? { indexDigest } : {}),
      created: new Date().toISOString(),
    };
    if (unpacker) {
      emit({ type: 'unpacking', ref: name });
      const error = await unpacked;
      if (error) {
        await dropUnreferenced(content, this.deps.records, [
          configDesc.digest,
          manifestDigest,
          ...(indexDigest ? [indexDigest] : []),
          ...layers.map((l) => l.digest),
        ]);
        throw error.reason;
      }
    }
    const record = await this.deps.records.save(
      draft,
      ref.tag ? formatReference({ ...ref, digest: undefined }) : undefined,
    );
    log.info({ imageId: record.id, ms: Date.now() - started, layers: layers.length }, 'image pulled');
    emit({ type: 'done', ref: name, id: record.id });
    return record;
  }
}

/** Waits for `p` without throwing: its failure, if any. */
function settle(p: Promise<void>): Promise<{ reason: unknown } | undefined> {
  return p.then(
    () => undefined,
    (reason: unknown) => ({ reason }),
  );
}
