// Writing images of the store as an OCI image layout directory, for a tool that reads
// one (the builder takes its base images from the node's store this way, never from a
// registry of its own). Blobs are hard links into the content store where the layout
// lies on the same file system, copies otherwise: no image is written twice.
import { copyFile, link, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContentStore } from './content-store.js';
import { digestHex } from './digest.js';
import type { ImageRecord } from './image-records.js';

/** Writes `images` to the layout `dir`, each manifest annotated with its name in `names`. */
export async function exportLayout(
  content: ContentStore,
  images: readonly { record: ImageRecord; name: string }[],
  dir: string,
): Promise<void> {
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const placed = new Set<string>();
  const place = async (digest: string) => {
    if (placed.has(digest)) return;
    placed.add(digest);
    const target = join(blobs, digestHex(digest));
    await link(content.path(digest), target).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code === 'EEXIST') return;
      if (e.code !== 'EXDEV' && e.code !== 'EPERM') throw e;
      await copyFile(content.path(digest), target);
    });
  };
  const manifests = [];
  for (const { record, name } of images) {
    await place(record.manifestDigest);
    await place(record.id);
    for (const l of record.layers) await place(l.digest);
    const size = (await content.size(record.manifestDigest)) ?? 0;
    manifests.push({
      mediaType: record.manifestMediaType,
      digest: record.manifestDigest,
      size,
      annotations: { 'org.opencontainers.image.ref.name': name },
    });
  }
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests }));
}
