// Garbage collection of the content store: a blob no image record references goes,
// unless a pull is fetching it right now.
import type { ContentStore } from './content-store.js';
import type { ImageRecord, ImageRecords } from './image-records.js';

/** What is being written right now: gc leaves it alone. */
export interface InFlight {
  fetching(digest: string): boolean;
  /** Whether any pull is under way (partial downloads then belong to it). */
  pulling(): boolean;
}

export interface GcResult {
  blobsRemoved: number;
  bytesFreed: number;
}

/** Removes blobs no image references, and partial downloads when nothing is pulling. */
export async function collectGarbage(
  content: ContentStore,
  records: ImageRecords,
  inFlight: InFlight,
): Promise<GcResult> {
  const keep = referencedBlobs(await records.load());
  let blobsRemoved = 0;
  let bytesFreed = 0;
  for (const digest of await content.list()) {
    if (keep.has(digest) || inFlight.fetching(digest)) continue;
    bytesFreed += (await content.size(digest)) ?? 0;
    await content.delete(digest);
    blobsRemoved++;
  }
  if (!inFlight.pulling()) bytesFreed += await content.clearIngest();
  return { blobsRemoved, bytesFreed };
}

/** Deletes those of `digests` no recorded image references (after a failed pull or import). */
export async function dropUnreferenced(
  content: ContentStore,
  records: ImageRecords,
  digests: readonly string[],
): Promise<void> {
  const used = referencedBlobs(await records.load());
  for (const d of digests) if (!used.has(d)) await content.delete(d);
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
