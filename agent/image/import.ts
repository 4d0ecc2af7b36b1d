// Importing a root filesystem tarball (plain, gzip or zstd) as a one-layer image, as
// `docker import` does: the tarball becomes the layer blob as it is, with a config and a
// manifest made here. Unpacking checks the tarball as a pull checks a layer.
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createGunzip } from 'node:zlib';
import { SkiffError } from '../../lib/index.js';
import type { ContentStore } from './content-store.js';
import { spawnDecompressor } from './decompress.js';
import { dropUnreferenced } from './gc.js';
import type { ImageRecord, ImageRecords } from './image-records.js';
import { MediaType, type OciImageConfig, type Platform } from './manifest.js';
import { hostPlatform } from './platform.js';
import type { Unpacker } from './pull.js';
import { formatReference, parseReference } from './reference.js';

export interface ImportDeps {
  content: ContentStore;
  records: ImageRecords;
  unpacker?: Unpacker;
}

export interface ImportOptions {
  config?: OciImageConfig['config'];
  platform?: Platform;
}

/** Makes a one-layer image from a rootfs tarball and tags it `ref`. */
export async function importRootfs(
  deps: ImportDeps,
  tarball: string,
  ref: string,
  opts: ImportOptions = {},
): Promise<ImageRecord> {
  const { content, records, unpacker } = deps;
  const target = parseReference(ref);
  if (target.digest) throw new SkiffError('invalid_argument', `import needs a tag, not a digest: ${ref}`);
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(tarball);
  } catch {
    throw new SkiffError('not_found', `cannot read ${tarball}: no such file`);
  }
  if (!info.isFile()) throw new SkiffError('invalid_argument', `${tarball} is not a file`);
  const compression = await sniffCompression(tarball);
  const diffId = await uncompressedDigest(tarball, compression);
  const blobDigest = compression === 'none' ? diffId : await fileDigest(tarball);
  const mediaType =
    compression === 'gzip'
      ? MediaType.ociLayerGzip
      : compression === 'zstd'
        ? MediaType.ociLayerZstd
        : MediaType.ociLayer;
  await content.ingest(blobDigest, info.size, {
    open: async () => ({ body: createReadStream(tarball), offset: 0 }),
  });
  const platform = opts.platform ?? hostPlatform();
  const created = new Date().toISOString();
  const config: OciImageConfig = {
    created,
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: opts.config ?? {},
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [{ created, created_by: `skiff image import ${tarball}` }],
  };
  const configBytes = Buffer.from(JSON.stringify(config));
  const configDigest = await content.writeBuffer(configBytes);
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: configDigest, size: configBytes.length },
    layers: [{ mediaType, digest: blobDigest, size: info.size }],
  };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  const manifestDigest = await content.writeBuffer(manifestBytes);
  const draft: ImageRecord = {
    id: configDigest,
    repoTags: [],
    repoDigests: [],
    config,
    layers: [{ digest: blobDigest, diffId, chainId: diffId, size: info.size, mediaType }],
    platform,
    size: info.size,
    manifestDigest,
    manifestMediaType: MediaType.ociManifest,
    created,
  };
  if (unpacker) {
    // Unpacking checks the tarball as a pull checks a layer: a hostile one is refused.
    try {
      await unpacker.unpack(draft.layers, content);
    } catch (e) {
      await dropUnreferenced(content, records, [blobDigest, configDigest, manifestDigest]);
      throw e;
    }
  }
  return records.save(draft, formatReference(target));
}

async function sniffCompression(path: string): Promise<'gzip' | 'zstd' | 'none'> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(512);
    const { bytesRead } = await fh.read(buf, 0, 512, 0);
    if (bytesRead >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) return 'gzip';
    if (bytesRead >= 4 && buf.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
    if (bytesRead < 512 || buf.toString('latin1', 257, 262) !== 'ustar') {
      throw new SkiffError('invalid_argument', `${path} is not a tar archive (plain, gzip or zstd)`);
    }
    return 'none';
  } finally {
    await fh.close();
  }
}

async function fileDigest(path: string): Promise<string> {
  const { createHash } = await import('node:crypto');
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

async function uncompressedDigest(path: string, compression: 'gzip' | 'zstd' | 'none'): Promise<string> {
  if (compression === 'none') return fileDigest(path);
  const { createHash } = await import('node:crypto');
  const hash = createHash('sha256');
  const input = createReadStream(path);
  const stream = compression === 'gzip' ? input.pipe(createGunzip()) : spawnDecompressor(input, 'zstd');
  let first = true;
  try {
    for await (const chunk of stream) {
      const buf = chunk as Buffer;
      if (first && buf.length >= 262 && buf.toString('latin1', 257, 262) !== 'ustar') {
        throw new SkiffError('invalid_argument', `${path} does not hold a tar archive`);
      }
      first = false;
      hash.update(buf);
    }
  } catch (e) {
    if (e instanceof SkiffError) throw e;
    throw new SkiffError(
      'invalid_argument',
      `${path} is not a valid ${compression} file: ${(e as Error).message}`,
    );
  }
  return `sha256:${hash.digest('hex')}`;
}
