// Writing images of the store as an OCI image layout directory, for a tool that reads
// one (the builder takes its base images from the node's store this way, never from a
// registry of its own). Blobs are hard links into the content store where the layout
// lies on the same file system, copies otherwise: no image is written twice.
import { copyFile, link, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContentStore } from './content-store.js';
import { digestHex, sha256 } from './digest.js';
import type { ImageRecord } from './image-records.js';
import { MediaType } from './manifest.js';

/**
 * Writes `images` to the layout `dir`, each manifest annotated with its name. With
 * `keepManifests` every manifest is the store's own, byte for byte (its digest names the
 * same image on the node that loads it), Docker's included.
 */
export async function exportLayout(
  content: ContentStore,
  images: readonly { record: ImageRecord; name: string }[],
  dir: string,
  opts: { keepManifests?: boolean } = {},
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
    await place(record.id);
    for (const l of record.layers) await place(l.digest);
    let desc = {
      mediaType: record.manifestMediaType,
      digest: record.manifestDigest,
      size: (await content.size(record.manifestDigest)) ?? 0,
    };
    if (record.manifestMediaType === MediaType.dockerManifest && !opts.keepManifests) {
      // An OCI layout reader (buildah's) passes over Docker manifests: the layout gets the
      // same image under an OCI manifest (same config and layer blobs); the store keeps its own.
      const bytes = Buffer.from(JSON.stringify(ociManifestOf(await content.read(record.manifestDigest))));
      desc = { mediaType: MediaType.ociManifest, digest: sha256(bytes), size: bytes.length };
      await writeFile(join(blobs, digestHex(desc.digest)), bytes);
    } else await place(record.manifestDigest);
    manifests.push({ ...desc, annotations: { 'org.opencontainers.image.ref.name': name } });
  }
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests }));
}

const OCI_LAYER: Record<string, string> = {
  [MediaType.dockerLayerGzip]: MediaType.ociLayerGzip,
  [MediaType.dockerForeignLayerGzip]: MediaType.ociLayerGzip,
};

/** A Docker schema 2 manifest as the OCI manifest of the same blobs. */
function ociManifestOf(docker: Buffer): unknown {
  const m = JSON.parse(docker.toString('utf8')) as {
    config: { digest: string; size: number };
    layers: { mediaType: string; digest: string; size: number }[];
  };
  return {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: m.config.digest, size: m.config.size },
    layers: m.layers.map((l) => ({
      mediaType: OCI_LAYER[l.mediaType] ?? l.mediaType,
      digest: l.digest,
      size: l.size,
    })),
  };
}
