// Importing an image from a directory in containers/image's `dir:` format (what
// `buildah push --format v2s2 … dir:DIR` writes: `manifest.json`, each blob as a file
// named by its hex digest; the Docker format keeps HEALTHCHECK, which the OCI config
// has no place for): its manifest, config and layers enter the content store, each checked
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
  type ImageManifest,
  MediaType,
  type OciImageConfig,
  type Platform,
  parseImageConfig,
  parseManifest,
} from './manifest.js';
import type { Unpacker } from './pull.js';
import { formatReference, parseReference } from './reference.js';

export interface DirImportDeps {
  content: ContentStore;
  records: ImageRecords;
  unpacker?: Unpacker;
  limits?: PullLimits;
}

/**
 * Imports the image of the directory `dir` and tags it `ref` (no tag: the image
 * is recorded untagged, as `docker build` without `-t`).
 */
export async function importImageDir(
  deps: DirImportDeps,
  dir: string,
  ref: string | undefined,
): Promise<ImageRecord> {
  const tag = ref === undefined ? undefined : parseReference(ref);
  if (tag?.digest) throw new SkiffError('invalid_argument', `an image is tagged by name, not digest: ${ref}`);
  const blob = (d: string) => join(dir, digestHex(d));
  let manifestBytes: Buffer;
  try {
    manifestBytes = await readFile(join(dir, 'manifest.json'));
  } catch {
    throw new SkiffError('invalid_argument', `${dir} holds no image (no manifest.json)`);
  }
  const parsed = parseManifest(manifestBytes, undefined, dir);
  if (parsed.kind !== 'manifest')
    throw new SkiffError('unsupported', `${dir} holds an index; one image manifest is needed`);
  const manifest = parsed.manifest;
  const configBytes = await readBlob(blob(manifest.config.digest), manifest.config.digest);
  const config = parseImageConfig(configBytes, manifest.config.digest);
  checkManifestAgainstConfig(manifest, config, dir);
  return storeImage(
    deps,
    {
      label: ref ?? 'the built image',
      manifestBytes,
      mediaType: parsed.mediaType,
      manifest,
      configBytes,
      config,
      blobFile: blob,
    },
    tag ? [formatReference(tag)] : [],
  );
}

/** An image read from files and checked against its manifest, ready to enter the store. */
export interface ImageSource {
  /** What the image is called in messages. */
  label: string;
  manifestBytes: Buffer;
  mediaType: string;
  manifest: ImageManifest;
  configBytes: Buffer;
  config: OciImageConfig;
  /** The file holding the blob of `digest` (a layer of the manifest). */
  blobFile(digest: string): string;
}

/**
 * Puts a checked image into the store: its blobs (a layer whose diff ID the store
 * already holds keeps that blob), config and manifest, unpacked, then recorded under
 * `tags` (full references; none: untagged). A failed unpack removes what it brought.
 */
export async function storeImage(
  deps: DirImportDeps,
  src: ImageSource,
  tags: readonly string[],
): Promise<ImageRecord> {
  const { content, records, unpacker } = deps;
  const { manifest, config, configBytes, manifestBytes } = src;
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
  await checkFreeSpace(content.root, needed, limits.minFreeBytes, `import ${src.label}`);
  for (const l of fresh) {
    await content.ingest(l.digest, l.size, {
      open: async () => ({ body: createReadStream(src.blobFile(l.digest)), offset: 0 }),
    });
  }
  await content.writeBuffer(configBytes, manifest.config.digest);
  // The manifest names the blobs kept, which may be the ones already here.
  // A rewritten manifest is an OCI one throughout (a Docker manifest has no media type
  // for the uncompressed layers an OCI base image may bring).
  const kept = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { ...manifest.config, mediaType: MediaType.ociConfig },
    layers: layers.map((l) => ({ mediaType: ociLayerType(l.mediaType), digest: l.digest, size: l.size })),
  };
  const same = layers.every((l, i) => l.digest === manifest.layers[i]!.digest);
  if (!same) for (const l of layers) l.mediaType = ociLayerType(l.mediaType);
  const keptBytes = same ? manifestBytes : Buffer.from(JSON.stringify(kept));
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
    manifestMediaType: same ? src.mediaType : MediaType.ociManifest,
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
  let saved = await records.save(draft, tags[0]);
  for (const t of tags.slice(1)) saved = await records.save(draft, t);
  return saved;
}

function ociLayerType(mediaType: string): string {
  return mediaType === MediaType.dockerLayerGzip ? MediaType.ociLayerGzip : mediaType;
}

async function readBlob(path: string, digest: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    throw new SkiffError('invalid_argument', `the image directory lacks blob ${digest}`);
  }
  const got = sha256(bytes);
  if (got !== digest)
    throw new SkiffError('corrupt', `blob ${digest} of the image directory has digest ${got}`);
  return bytes;
}
