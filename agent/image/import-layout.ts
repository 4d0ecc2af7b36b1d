// Importing an image from an OCI image layout directory (what `buildah push … oci:DIR`
// writes): its manifest, config and layers enter the content store, each checked
// against its digest, then the image is unpacked and recorded under a tag, as a pull
// does. A layer whose uncompressed content (diff ID) the store already holds as another
// blob keeps that blob: a built image's base layers, recompressed by the builder,
// share the base image's blobs instead of being stored twice.
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SkiffError } from '../../lib/index.js';
import type { ContentStore } from './content-store.js';
import { chainIds, digestHex, sha256 } from './digest.js';
import { dropUnreferenced } from './gc.js';
import type { ImageLayer, ImageRecord, ImageRecords } from './image-records.js';
import { checkFreeSpace, DEFAULT_PULL_LIMITS, type PullLimits } from './limits.js';
import {
  checkManifestAgainstConfig,
  type Descriptor,
  MediaType,
  type Platform,
  parseImageConfig,
  parseManifest,
} from './manifest.js';
import type { Unpacker } from './pull.js';
import { formatReference, parseReference } from './reference.js';

export interface LayoutImportDeps {
  content: ContentStore;
  records: ImageRecords;
  unpacker?: Unpacker;
  limits?: PullLimits;
}

/**
 * Imports the one image of the OCI layout `dir` and tags it `ref` (no tag: the image
 * is recorded untagged, as `docker build` without `-t`).
 */
export async function importLayout(
  deps: LayoutImportDeps,
  dir: string,
  ref: string | undefined,
): Promise<ImageRecord> {
  const { content, records, unpacker } = deps;
  const tag = ref === undefined ? undefined : parseReference(ref);
  if (tag?.digest) throw new SkiffError('invalid_argument', `an image is tagged by name, not digest: ${ref}`);
  const index = await readJson(join(dir, 'index.json'), 'the layout index');
  const manifests = (index as { manifests?: unknown }).manifests;
  if (!Array.isArray(manifests) || manifests.length !== 1)
    throw new SkiffError('invalid_argument', `the OCI layout ${dir} must hold exactly one image`);
  const top = manifests[0] as Descriptor;
  const blob = (d: string) => join(dir, 'blobs', 'sha256', digestHex(d));
  const manifestBytes = await readBlob(blob(top.digest), top.digest);
  const parsed = parseManifest(manifestBytes, top.mediaType, dir);
  if (parsed.kind !== 'manifest')
    throw new SkiffError('unsupported', `the OCI layout ${dir} holds an index; one image manifest is needed`);
  const manifest = parsed.manifest;
  const configBytes = await readBlob(blob(manifest.config.digest), manifest.config.digest);
  const config = parseImageConfig(configBytes, manifest.config.digest);
  checkManifestAgainstConfig(manifest, config, dir);

  // Blobs the store already has under another digest for the same diff ID are reused.
  const known = new Map<string, ImageLayer>();
  for (const img of await records.load()) for (const l of img.layers) known.set(l.diffId, l);
  const chains = chainIds(config.rootfs.diff_ids);
  const layers: ImageLayer[] = manifest.layers.map((l, i) => {
    const diffId = config.rootfs.diff_ids[i]!;
    const have = known.get(diffId);
    const chosen = have ?? { digest: l.digest, size: l.size, mediaType: l.mediaType };
    return {
      digest: chosen.digest,
      diffId,
      chainId: chains[i]!,
      size: chosen.size,
      mediaType: chosen.mediaType,
    };
  });
  const fresh = layers.filter((l) => !known.has(l.diffId));
  let needed = 0;
  for (const l of fresh) if (!(await content.has(l.digest))) needed += l.size;
  const limits = deps.limits ?? DEFAULT_PULL_LIMITS;
  await checkFreeSpace(content.root, needed, limits.minFreeBytes, `import ${ref ?? 'the built image'}`);
  for (const l of fresh) {
    await content.ingest(l.digest, l.size, {
      open: async () => ({ body: createReadStream(blob(l.digest)), offset: 0 }),
    });
  }
  await content.writeBuffer(configBytes, manifest.config.digest);
  // The manifest names the blobs kept, which may be the ones already here.
  const kept = {
    ...manifest,
    mediaType: MediaType.ociManifest,
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  };
  const keptBytes = layers.every((l, i) => l.digest === manifest.layers[i]!.digest)
    ? manifestBytes
    : Buffer.from(JSON.stringify(kept));
  const manifestDigest = await content.writeBuffer(keptBytes, sha256(keptBytes));
  const platform: Platform = {
    os: config.os,
    architecture: config.architecture,
    ...(config.variant ? { variant: config.variant } : {}),
  };
  const draft: ImageRecord = {
    id: manifest.config.digest,
    repoTags: [],
    repoDigests: [],
    config,
    layers,
    platform,
    size: layers.reduce((n, l) => n + l.size, 0),
    manifestDigest,
    manifestMediaType: parsed.mediaType,
    created: new Date().toISOString(),
  };
  if (unpacker) {
    try {
      await unpacker.unpack(layers, content);
    } catch (e) {
      await dropUnreferenced(content, records, [
        manifest.config.digest,
        manifestDigest,
        ...fresh.map((l) => l.digest),
      ]);
      throw e;
    }
  }
  return records.save(draft, tag ? formatReference(tag) : undefined);
}

async function readJson(path: string, what: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (e) {
    throw new SkiffError('invalid_argument', `cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

async function readBlob(path: string, digest: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    throw new SkiffError('invalid_argument', `the OCI layout lacks blob ${digest}`);
  }
  const got = sha256(bytes);
  if (got !== digest) throw new SkiffError('corrupt', `blob ${digest} of the OCI layout has digest ${got}`);
  return bytes;
}
