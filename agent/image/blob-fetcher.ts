// Downloads blobs into the content store: each blob once even when several pulls want
// it, at most `limiter`'s number at a time over all pulls, resuming a dropped download;
// a `LiveBlob` tap gets the bytes as they arrive (a pull unpacking the layer meanwhile).
import { type Logger, SkiffError } from '../../lib/index.js';
import type { ContentStore } from './content-store.js';
import type { ContentSource, Distribution } from './distribution.js';
import type { Limiter } from './limiter.js';
import type { LiveBlob } from './live-blob.js';
import type { Descriptor } from './manifest.js';
import type { ImageReference } from './reference.js';

export type BlobStatus = 'exists' | 'waiting' | 'downloading' | 'verifying' | 'done';

export class BlobFetcher {
  private readonly jobs = new Map<string, Promise<void>>();

  constructor(
    private readonly content: ContentStore,
    private readonly dist: Distribution,
    private readonly limiter: Limiter,
    private readonly log: Logger,
  ) {}

  /** Whether `digest` is being downloaded right now. */
  fetching(digest: string): boolean {
    return this.jobs.has(digest);
  }

  fetch(
    ref: ImageReference,
    desc: Descriptor,
    progress: (status: BlobStatus, current: number) => void,
    source: ContentSource = this.dist,
    tap?: LiveBlob,
  ): Promise<void> {
    const existing = this.jobs.get(desc.digest);
    if (existing) {
      tap?.abandon('another pull is downloading the blob');
      progress('waiting', 0);
      return existing.then(() => progress('done', desc.size));
    }
    const job = this.download(ref, desc, progress, source, tap).finally(() => {
      tap?.abandon('the blob did not come from this download');
      this.jobs.delete(desc.digest);
    });
    this.jobs.set(desc.digest, job);
    return job;
  }

  private async download(
    ref: ImageReference,
    desc: Descriptor,
    progress: (status: BlobStatus, current: number) => void,
    source: ContentSource,
    tap: LiveBlob | undefined,
  ): Promise<void> {
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
            { open: (offset) => source.openBlob(ref, desc.digest, offset) },
            (have) => {
              // one event per ~256 KiB keeps a 200 MB pull at under a thousand events per layer
              if (have - last >= 262_144 || have === desc.size) {
                last = have;
                progress('downloading', have);
              }
            },
            tap,
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
  }
}
