// The node's image service: one object wiring the content store, the images store and
// the registry client into the operations (pull.ts, push.ts, import.ts, tags.ts,
// login.ts, gc.ts), for the agent, the node's API and the tests. It holds no logic of
// its own beyond choosing credentials.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { type Logger, silentLogger } from '../../lib/index.js';
import { type LoadEvent, type LoadedImage, loadArchive } from './archive-load.js';
import { resolveSaveNames, saveArchive } from './archive-save.js';
import { type Credentials, defaultAuthFile, lookupCredentials } from './auth.js';
import { BlobFetcher } from './blob-fetcher.js';
import { ContentStore } from './content-store.js';
import { Distribution } from './distribution.js';
import { exportLayout, type LayoutImage } from './export-layout.js';
import { findImage } from './find-image.js';
import { collectGarbage, type GcResult } from './gc.js';
import { type ImageRecord, ImageRecords } from './image-records.js';
import { type ImportOptions, importRootfs } from './import.js';
import { importImageDir } from './import-dir.js';
import { Limiter } from './limiter.js';
import type { PullLimits } from './limits.js';
import { login, verifyLogin } from './login.js';
import { PeerSource, type PeerTls } from './peer.js';
import { Puller, type PullOptions, type PullOutcome, type Unpacker } from './pull.js';
import { type PushEvent, pushImage } from './push.js';
import { RegistryClient, type RegistryOptions } from './registry-client.js';
import { type RemoveResult, removeImage, tagImage } from './tags.js';

export interface ImageServiceOptions {
  /** The node's state root, e.g. /var/lib/skiff/<node>: blobs go to `content/`, metadata to `images.json`. */
  root: string;
  registries?: RegistryOptions;
  /** Docker-format credentials file (default $DOCKER_CONFIG/config.json or ~/.docker/config.json). */
  authFile?: string;
  /** Layers downloaded at once, over all pulls (default 3). */
  concurrency?: number;
  logger?: Logger;
  /** Unpacks a pulled or imported image before it is recorded (the snapshotter). */
  unpacker?: Unpacker;
  /** What a pull may bring (default DEFAULT_PULL_LIMITS); the snapshotter takes its own. */
  limits?: PullLimits;
  /** Told of every finished pull (the node's metrics). */
  onPulled?: (p: PullOutcome) => void;
}

export class ImageService {
  readonly content: ContentStore;
  readonly records: ImageRecords;
  private readonly client: RegistryClient;
  private readonly dist: Distribution;
  private readonly limiter: Limiter;
  private readonly blobs: BlobFetcher;
  private readonly puller: Puller;
  private readonly log: Logger;
  private readonly authFile: string;
  private initialized: Promise<void> | undefined;

  constructor(readonly opts: ImageServiceOptions) {
    this.content = new ContentStore(join(opts.root, 'content'));
    this.records = new ImageRecords(join(opts.root, 'images.json'));
    this.authFile = opts.authFile ?? defaultAuthFile();
    this.log = (opts.logger ?? silentLogger).child({ component: 'image' });
    this.limiter = new Limiter(opts.concurrency ?? 3);
    this.client = new RegistryClient({
      ...(opts.registries ? { registries: opts.registries } : {}),
      credentials: (registry) => lookupCredentials(this.authFile, registry),
      logger: this.log,
    });
    this.dist = new Distribution(this.client);
    this.blobs = new BlobFetcher(this.content, this.dist, this.limiter, this.log);
    this.puller = new Puller({
      content: this.content,
      records: this.records,
      dist: this.dist,
      blobs: this.blobs,
      log: this.log,
      ...(opts.unpacker ? { unpacker: opts.unpacker } : {}),
      ...(opts.limits ? { limits: opts.limits } : {}),
      ...(opts.onPulled ? { onPulled: opts.onPulled } : {}),
    });
  }

  /** Creates the store directories and loads the metadata; called by every operation. */
  init(): Promise<void> {
    this.initialized ??= (async () => {
      await this.content.init();
      await this.records.load();
    })();
    return this.initialized;
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /** Looks an image up by reference (tag or digest), full or short ID; synchronous on the loaded metadata. */
  get(refOrId: string): ImageRecord | undefined {
    return findImage(this.records.cached(), refOrId);
  }

  /** Reloads metadata from disk (another process may have changed it) and looks up. */
  async lookup(refOrId: string): Promise<ImageRecord | undefined> {
    await this.init();
    return findImage(await this.records.load(), refOrId);
  }

  list(): ImageRecord[] {
    return this.records.cached();
  }

  async refresh(): Promise<ImageRecord[]> {
    await this.init();
    return this.records.load();
  }

  async pull(ref: string, opts: PullOptions = {}): Promise<ImageRecord> {
    await this.init();
    return this.puller.pull(ref, opts);
  }

  /**
   * Pulls an image pinned by digest from other nodes of the cluster (`peers`: host:port of
   * their peer endpoints) instead of its registry; checked and recorded as any pull.
   */
  async pullFromPeers(
    ref: string,
    peers: readonly string[],
    tls: () => PeerTls,
    opts: Omit<PullOptions, 'from'> = {},
  ): Promise<ImageRecord> {
    await this.init();
    return this.puller.pull(ref, { ...opts, from: new PeerSource(peers, tls, this.log) });
  }

  /** The digests of the manifests and indexes this node holds, newest first (what it can serve peers). */
  heldDigests(max: number): string[] {
    const out: string[] = [];
    const newest = [...this.records.cached()].sort((a, b) => b.created.localeCompare(a.created));
    for (const r of newest) {
      for (const d of [r.manifestDigest, r.indexDigest]) if (d && !out.includes(d)) out.push(d);
      if (out.length >= max) break;
    }
    return out.slice(0, max);
  }

  async tag(source: string, target: string): Promise<ImageRecord> {
    await this.init();
    return tagImage(this.records, source, target);
  }

  async remove(ref: string, opts: { force?: boolean } = {}): Promise<RemoveResult> {
    await this.init();
    return removeImage(this.records, ref, opts);
  }

  async importRootfs(tarball: string, ref: string, opts: ImportOptions = {}): Promise<ImageRecord> {
    await this.init();
    return importRootfs(
      {
        content: this.content,
        records: this.records,
        ...(this.opts.unpacker ? { unpacker: this.opts.unpacker } : {}),
      },
      tarball,
      ref,
      opts,
    );
  }

  /** Imports the image of a `dir:`-format directory (a build's result), tagged `ref` when given. */
  async importImageDir(dir: string, ref: string | undefined): Promise<ImageRecord> {
    await this.init();
    return importImageDir(
      {
        content: this.content,
        records: this.records,
        ...(this.opts.unpacker ? { unpacker: this.opts.unpacker } : {}),
        ...(this.opts.limits ? { limits: this.opts.limits } : {}),
      },
      dir,
      ref,
    );
  }

  /**
   * `docker save`: the images `names` ask for as one tarball (docker-archive and OCI
   * layout in one); `release` frees its scratch directory when the reader goes early;
   * `size`, when the names resolved to one image, the bytes of its blobs.
   */
  async save(
    names: readonly string[],
  ): Promise<{ stream: Readable; release: () => void; size: number | undefined }> {
    await this.init();
    const entries = resolveSaveNames(await this.records.load(), names);
    const { stream, release } = await saveArchive(this.content, entries, this.scratch('save'));
    return { stream, release, size: entries.length === 1 ? entries[0]?.record.size : undefined };
  }

  /** `docker load`: the images of a docker-archive or OCI layout tarball, each checked whole first. */
  async load(tarball: string, onEvent?: (e: LoadEvent) => void): Promise<LoadedImage[]> {
    await this.init();
    return loadArchive(
      {
        content: this.content,
        records: this.records,
        ...(this.opts.unpacker ? { unpacker: this.opts.unpacker } : {}),
        ...(this.opts.limits ? { limits: this.opts.limits } : {}),
      },
      tarball,
      this.scratch('load'),
      onEvent,
    );
  }

  /** A fresh scratch directory's path under the store (same file system: blobs hard-link). */
  scratch(kind: string): string {
    return join(this.opts.root, 'tmp', `${kind}-${randomBytes(6).toString('hex')}`);
  }

  /** Writes images of the store to an OCI layout directory, each under the name given. */
  async exportLayout(images: readonly LayoutImage[], dir: string): Promise<void> {
    await this.init();
    return exportLayout(this.content, images, dir);
  }

  /**
   * Pushes a local image to the registry its tag names, with `credentials` when given
   * (the client's, as docker's X-Registry-Auth), else those of the auth file.
   */
  async push(
    ref: string,
    opts: { onProgress?: (e: PushEvent) => void; credentials?: Credentials } = {},
  ): Promise<{ digest: string }> {
    await this.init();
    const given = opts.credentials;
    const client = given
      ? new RegistryClient({
          ...(this.opts.registries ? { registries: this.opts.registries } : {}),
          credentials: async () => given,
          logger: this.log,
        })
      : undefined;
    try {
      const dist = client ? new Distribution(client) : this.dist;
      return await pushImage(
        { content: this.content, records: this.records, dist, limiter: this.limiter },
        ref,
        opts.onProgress ? { onProgress: opts.onProgress } : {},
      );
    } finally {
      await client?.close();
    }
  }

  /** Checks the credentials against the registry, then stores them in the auth file. */
  login(registry: string, username: string, password: string): Promise<void> {
    return login(this.opts.registries, this.authFile, registry, username, password);
  }

  /** Checks the credentials against the registry and keeps nothing (docker's POST /auth). */
  verifyLogin(registry: string, username: string, password: string): Promise<string> {
    return verifyLogin(this.opts.registries, registry, username, password);
  }

  /** Removes blobs no image references, and partial downloads when nothing is pulling. */
  async gc(): Promise<GcResult> {
    await this.init();
    return collectGarbage(this.content, this.records, {
      fetching: (d) => this.blobs.fetching(d) || this.puller.holds(d),
      pulling: () => this.puller.pulling(),
    });
  }
}
