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
  MediaType,
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
  let manifestBytes: Buffer;
  try {
    manifestBytes = await readFile(join(dir, 'manifest.json'));
  } catch {
    throw new SkiffError('invalid_argument', `${dir} holds no image (no manifest.json)`);
  }
  return importManifest(deps, manifestBytes, (d) => join(dir, digestHex(d)), ref, dir, true);
}

/**
 * Imports the images of an OCI image layout directory (what `GET /images/get` writes:
 * docker save), each tagged with the name its index entry carries. Manifests are kept
 * byte for byte: the image has the same manifest digest as on the node it came from, so
 * a service pinned to it by digest runs it here too.
 */
export async function importImageLayout(deps: DirImportDeps, dir: string): Promise<ImageRecord[]> {
  let index: {
    manifests?: { digest?: unknown; mediaType?: unknown; annotations?: Record<string, unknown> }[];
  };
  try {
    index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as typeof index;
  } catch {
    throw new SkiffError('invalid_argument', 'the archive is no OCI image layout (no readable index.json)');
  }
  const blob = (d: string) => join(dir, 'blobs', 'sha256', digestHex(d));
  const out: ImageRecord[] = [];
  for (const desc of index.manifests ?? []) {
    if (typeof desc.digest !== 'string' || !/^sha256:[a-f0-9]{64}$/.test(desc.digest))
      throw new SkiffError('invalid_argument', 'an index.json entry of the archive has no sha256 digest');
    if (desc.mediaType === MediaType.ociIndex || desc.mediaType === MediaType.dockerList)
      throw new SkiffError(
        'unsupported',
        `the archive's ${desc.digest} is an index; load takes image manifests`,
      );
    const bytes = await readBlob(blob(desc.digest), desc.digest);
    const a = desc.annotations ?? {};
    const name = [a['io.containerd.image.name'], a['org.opencontainers.image.ref.name']].find(
      (n): n is string => typeof n === 'string' && /[/:]/.test(n),
    );
    out.push(await importManifest(deps, bytes, blob, name, 'the archive', false));
  }
  if (out.length === 0) throw new SkiffError('invalid_argument', 'the archive holds no image');
  return out;
}

async function importManifest(
  deps: DirImportDeps,
  manifestBytes: Buffer,
  blob: (digest: string) => string,
  ref: string | undefined,
  dir: string,
  reuseDiffIds: boolean,
): Promise<ImageRecord> {
  const { content, records, unpacker } = deps;
  const tag = ref === undefined ? undefined : parseReference(ref);
  if (tag?.digest) throw new SkiffError('invalid_argument', `an image is tagged by name, not digest: ${ref}`);
  const parsed = parseManifest(manifestBytes, undefined, dir);
  if (parsed.kind !== 'manifest')
    throw new SkiffError('unsupported', `${dir} holds an index; one image manifest is needed`);
  const manifest = parsed.manifest;
  const configBytes = await readBlob(blob(manifest.config.digest), manifest.config.digest);
  const config = parseImageConfig(configBytes, manifest.config.digest);
  checkManifestAgainstConfig(manifest, config, dir);

  // Blobs the store already has under another digest for the same diff ID are reused.
  const known = new Map<string, ImageLayer>();
  if (reuseDiffIds)
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
    manifestMediaType: same ? parsed.mediaType : MediaType.ociManifest,
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

function ociLayerType(mediaType: string): string {
  return mediaType === MediaType.dockerLayerGzip ? MediaType.ociLayerGzip : mediaType;
}

async function readBlob(path: string, digest: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch {
    throw new SkiffError('invalid_argument', `the image lacks blob ${digest}`);
  }
  const got = sha256(bytes);
  if (got !== digest) throw new SkiffError('corrupt', `blob ${digest} of the image has digest ${got}`);
  return bytes;
}
