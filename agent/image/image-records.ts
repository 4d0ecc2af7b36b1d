import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileDurable } from '../../disk/index.js';
import { SkiffError } from '../../lib/index.js';
import type { OciImageConfig, Platform } from './manifest.js';

export interface ImageLayer {
  /** Digest of the blob as stored (compressed or not). */
  digest: string;
  /** Digest of the uncompressed tar (the config's diff ID). */
  diffId: string;
  chainId: string;
  /** Size of the blob in bytes. */
  size: number;
  mediaType: string;
}

export interface ImageRecord {
  /** Image ID: the digest of the image config. */
  id: string;
  /** Fully qualified tags: `docker.io/library/busybox:latest`. */
  repoTags: string[];
  /** `registry/repository@sha256:…` of the manifest (or index) the image was pulled by. */
  repoDigests: string[];
  config: OciImageConfig;
  layers: ImageLayer[];
  platform: Platform;
  /** Sum of the layer blob sizes. */
  size: number;
  /** The platform manifest in the content store (what push sends). */
  manifestDigest: string;
  manifestMediaType: string;
  /** The index the manifest was chosen from, when the tag named an index. */
  indexDigest?: string;
  /** When this node got the image (RFC 3339). */
  created: string;
}

interface RecordsFile {
  version: 1;
  images: ImageRecord[];
}

export class ImageRecords {
  private chain: Promise<unknown> = Promise.resolve();
  private last: ImageRecord[] = [];
  /** Told after every write (the agent tells the cluster which images it can serve). */
  onChange: (() => void) | undefined;

  constructor(private readonly file: string) {}

  /** The records as last read or written by this process. */
  cached(): ImageRecord[] {
    return [...this.last];
  }

  /** Reads the records from disk (another process may have changed them) and caches them. */
  async load(): Promise<ImageRecord[]> {
    this.last = await this.read();
    return this.cached();
  }

  private async read(): Promise<ImageRecord[]> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    try {
      const doc = JSON.parse(text) as RecordsFile;
      return Array.isArray(doc.images) ? doc.images : [];
    } catch (e) {
      throw new SkiffError(
        'corrupt',
        `image metadata ${this.file} is not valid JSON: ${(e as Error).message}`,
        {
          hint: 'move the file away and pull the images again',
        },
      );
    }
  }

  /** Runs a read-modify-write of the records, one at a time. */
  update<T>(change: (images: ImageRecord[]) => T | Promise<T>): Promise<T> {
    const run = this.chain.then(async () => {
      const images = await this.read();
      const result = await change(images);
      await mkdir(dirname(this.file), { recursive: true });
      await writeFileDurable(this.file, JSON.stringify({ version: 1, images } satisfies RecordsFile));
      this.last = structuredClone(images);
      this.onChange?.();
      return result;
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Stores a record, merging with an existing one of the same ID and moving `tag` to it. */
  save(record: ImageRecord, tag: string | undefined): Promise<ImageRecord> {
    return this.update((images) => {
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
  }
}

export function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}
