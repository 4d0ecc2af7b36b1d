// `docker load`: the images of a tarball into the store. Two formats: docker-archive
// (`manifest.json` naming each image's config and layer files and its tags: what `docker
// save`, skopeo's and buildah's `docker-archive:` write) and an OCI image layout
// (`index.json` and `blobs/`: `oci-archive:`); a tarball with both (dockerd 25+, skiff's
// save) is read by its manifest.json. The tarball is unpacked by node-tar (no absolute
// names, no `..`, no writes through links) into a scratch directory, and every file the
// image names is read only inside it. Every image is checked whole — config and blob
// digests, each layer's uncompressed digest against its config's diff ID — before any
// of them enters the store, so a bad tarball is refused with nothing half-loaded.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, realpath, rm, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { SkiffError } from '../../lib/index.js';
import { decompress } from './decompress.js';
import { chainIds, digestHex, sha256 } from './digest.js';
import { type DirImportDeps, type ImageSource, storeImage } from './import-dir.js';
import {
  type Compression,
  checkManifestAgainstConfig,
  type Descriptor,
  type ImageManifest,
  layerCompression,
  MediaType,
  parseImageConfig,
  parseManifest,
} from './manifest.js';
import { hostPlatform, selectManifest } from './platform.js';
import { formatReference, parseReference } from './reference.js';

/** What a load tells as it goes (dockerd's progress lines). */
export type LoadEvent =
  | { type: 'layer'; chainId: string; size: number }
  /** `tag` named another image, which keeps no tag of it now. */
  | { type: 'retagged'; tag: string; previousId: string };

/** One loaded image: its ID and the tags (full references) it got. */
export interface LoadedImage {
  id: string;
  tags: string[];
}

interface Candidate {
  source: ImageSource;
  tags: string[];
}

/**
 * Loads the images of the tarball `tarball` (plain or gzip'd tar), unpacked in the
 * scratch directory `scratch` (removed afterwards).
 */
export async function loadArchive(
  deps: DirImportDeps,
  tarball: string,
  scratch: string,
  onEvent: (e: LoadEvent) => void = () => {},
): Promise<LoadedImage[]> {
  // node-tar loads with the first load, not with every node start.
  const { extract } = await import('tar');
  await mkdir(scratch, { recursive: true, mode: 0o700 });
  try {
    try {
      await extract({ file: tarball, cwd: scratch, preserveOwner: false, strict: true });
    } catch (e) {
      throw invalid(`the tarball could not be read as a tar archive: ${(e as Error).message}`);
    }
    const root = await realpath(scratch);
    const candidates = await readCandidates(root);
    const out: LoadedImage[] = [];
    for (const c of candidates) {
      const before = await deps.records.load();
      for (const tag of c.tags) {
        const prior = before.find((i) => i.repoTags.includes(tag));
        const id = sha256(c.source.configBytes);
        if (prior && prior.id !== id) onEvent({ type: 'retagged', tag, previousId: prior.id });
      }
      const record = await storeImage(deps, c.source, c.tags);
      chainIds(c.source.config.rootfs.diff_ids).forEach((chainId, i) => {
        onEvent({ type: 'layer', chainId, size: c.source.manifest.layers[i]?.size ?? 0 });
      });
      out.push({ id: record.id, tags: c.tags });
    }
    return out;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Every image of the unpacked tarball at `root`, checked; refused as a 400 otherwise. */
async function readCandidates(root: string): Promise<Candidate[]> {
  try {
    if (await exists(root, 'manifest.json')) return await readDockerArchive(root);
    if (await exists(root, 'index.json')) return await readOciLayout(root);
  } catch (e) {
    // A document that does not parse or check is the client's tarball, not the store.
    if (e instanceof SkiffError && (e.code === 'corrupt' || e.code === 'not_found')) throw invalid(e.message);
    throw e;
  }
  if (await exists(root, 'repositories'))
    throw invalid('the tarball is in the legacy format of docker before 1.10 (no manifest.json)', {
      hint: 'save the image again with a current docker, skopeo or buildah',
    });
  throw invalid(
    'the tarball holds no image: neither a manifest.json (docker save, docker-archive) nor an index.json (OCI layout)',
  );
}

interface ArchiveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

async function readDockerArchive(root: string): Promise<Candidate[]> {
  const doc = parseJson(await readInside(root, 'manifest.json'), 'manifest.json');
  if (!Array.isArray(doc) || doc.length === 0 || !doc.every(isArchiveEntry))
    throw invalid('manifest.json is not a list of images ({Config, RepoTags, Layers})');
  const out: Candidate[] = [];
  for (const entry of doc as ArchiveEntry[]) {
    const configBytes = await readInside(root, entry.Config);
    const configDigest = sha256(configBytes);
    const named = hexNamed(entry.Config);
    if (named && named !== digestHex(configDigest))
      throw invalid(`${entry.Config} does not match its digest: its content is ${configDigest}`);
    const config = parseImageConfig(configBytes, configDigest);
    const label = entry.RepoTags?.[0] ?? configDigest;
    if (entry.Layers.length !== config.rootfs.diff_ids.length)
      throw invalid(
        `image ${label} lists ${entry.Layers.length} layers but its config has ${config.rootfs.diff_ids.length} diff IDs`,
      );
    const files = new Map<string, string>();
    const layers: Descriptor[] = [];
    for (const [i, path] of entry.Layers.entries()) {
      const file = await resolveInside(root, path);
      const compression = await sniffCompression(file, path);
      const digest = await fileDigest(file);
      const named = hexNamed(path);
      if (named && named !== digestHex(digest))
        throw invalid(`layer ${path} of image ${label} does not match its digest: its content is ${digest}`);
      await checkDiffId(file, compression, config.rootfs.diff_ids[i]!, `layer ${path} of image ${label}`);
      files.set(digest, file);
      layers.push({ mediaType: LAYER_TYPE[compression], digest, size: (await stat(file)).size });
    }
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: configDigest, size: configBytes.length },
      layers,
    };
    out.push({
      source: {
        label,
        manifestBytes: Buffer.from(JSON.stringify(manifest)),
        mediaType: MediaType.ociManifest,
        manifest,
        configBytes,
        config,
        blobFile: (d) => files.get(d) ?? '',
      },
      tags: (entry.RepoTags ?? []).map((t) => fullTag(t)),
    });
  }
  return out;
}

async function readOciLayout(root: string): Promise<Candidate[]> {
  const parsed = parseManifest(await readInside(root, 'index.json'), MediaType.ociIndex, 'index.json');
  if (parsed.kind !== 'index') throw invalid('index.json is not an OCI image index');
  if (parsed.index.manifests.length === 0) throw invalid('index.json lists no image');
  const out = new Map<string, Candidate>();
  for (const desc of parsed.index.manifests) {
    let manifestDesc = desc;
    if (desc.mediaType === MediaType.ociIndex || desc.mediaType === MediaType.dockerList) {
      const nested = parseManifest(await readBlob(root, desc), desc.mediaType, desc.digest);
      if (nested.kind !== 'index') throw invalid(`${desc.digest} is not an image index`);
      manifestDesc = selectManifest(nested.index, hostPlatform(), desc.digest);
    }
    const manifestBytes = await readBlob(root, manifestDesc);
    const m = parseManifest(manifestBytes, manifestDesc.mediaType, manifestDesc.digest);
    if (m.kind !== 'manifest') throw invalid(`${manifestDesc.digest} is not an image manifest`);
    const configBytes = await readBlob(root, m.manifest.config);
    const config = parseImageConfig(configBytes, m.manifest.config.digest);
    const tag = layoutTag(desc.annotations);
    const label = tag ?? m.manifest.config.digest;
    checkManifestAgainstConfig(m.manifest, config, label);
    const files = new Map<string, string>();
    for (const [i, layer] of m.manifest.layers.entries()) {
      const file = await blobFileChecked(root, layer);
      const what = `layer ${layer.digest} of image ${label}`;
      await checkDiffId(file, layerCompression(layer.mediaType)!, config.rootfs.diff_ids[i]!, what);
      files.set(layer.digest, file);
    }
    // The same image under several names is one candidate with all its tags.
    const key = manifestDesc.digest;
    const have = out.get(key);
    if (have) {
      if (tag && !have.tags.includes(tag)) have.tags.push(tag);
      continue;
    }
    out.set(key, {
      source: {
        label,
        manifestBytes,
        mediaType: m.mediaType,
        manifest: m.manifest,
        configBytes,
        config,
        blobFile: (d) => files.get(d) ?? '',
      },
      tags: tag ? [tag] : [],
    });
  }
  return [...out.values()];
}

/**
 * The name an OCI layout gives an image: containerd's full name, else a ref name that
 * is a reference (skopeo's `oci-archive:x.tar:busybox:1`); a bare ref name (`latest`)
 * is only a tag with no repository, and the image loads untagged, as containerd does.
 */
function layoutTag(annotations: Record<string, string> | undefined): string | undefined {
  const full = annotations?.['io.containerd.image.name'];
  if (full) return fullTag(full);
  const ref = annotations?.['org.opencontainers.image.ref.name'];
  if (ref && /[:/@]/.test(ref)) return fullTag(ref);
  return undefined;
}

function fullTag(name: string): string {
  let ref: ReturnType<typeof parseReference>;
  try {
    ref = parseReference(name);
  } catch (e) {
    throw invalid(`the tarball names an image ${JSON.stringify(name)}: ${(e as Error).message}`);
  }
  if (ref.digest) throw invalid(`the tarball tags an image by digest (${name}); a tag is needed`);
  return formatReference(ref);
}

const LAYER_TYPE: Record<Compression, string> = {
  none: MediaType.ociLayer,
  gzip: MediaType.ociLayerGzip,
  zstd: MediaType.ociLayerZstd,
};

/** A file named by a digest's hex (`blobs/sha256/<hex>`, `<hex>.json`, `<hex>/layer.tar`'s dir is not). */
function hexNamed(path: string): string | undefined {
  const m = /(?:^|\/)([a-f0-9]{64})(?:\.json)?$/.exec(path);
  return m?.[1];
}

async function blobFileChecked(root: string, desc: Descriptor): Promise<string> {
  const [alg, hex] = desc.digest.split(':');
  const file = await resolveInside(root, `blobs/${alg}/${hex}`);
  const size = (await stat(file)).size;
  if (size !== desc.size)
    throw invalid(`blob ${desc.digest} has ${size} bytes in the tarball; its descriptor says ${desc.size}`);
  const got = await fileDigest(file);
  if (got !== desc.digest)
    throw invalid(`blob ${desc.digest} does not match its digest: its content is ${got}`);
  return file;
}

async function readBlob(root: string, desc: Descriptor): Promise<Buffer> {
  return readDocument(await blobFileChecked(root, desc), desc.digest);
}

async function checkDiffId(
  file: string,
  compression: Compression,
  diffId: string,
  what: string,
): Promise<void> {
  const hash = createHash('sha256');
  try {
    for await (const chunk of decompress(createReadStream(file), compression)) hash.update(chunk as Buffer);
  } catch (e) {
    throw invalid(`${what} is not a valid ${compression} stream: ${(e as Error).message}`);
  }
  const got = `sha256:${hash.digest('hex')}`;
  if (got !== diffId)
    throw invalid(
      `${what} does not match its image config: diff ID ${diffId} expected, the layer has ${got}`,
    );
}

async function fileDigest(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

async function sniffCompression(file: string, name: string): Promise<Compression> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(512);
    const { bytesRead } = await fh.read(buf, 0, 512, 0);
    if (bytesRead >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) return 'gzip';
    if (bytesRead >= 4 && buf.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
    // An empty layer is an empty tar: end-of-archive blocks only.
    if (bytesRead === 512 && (buf.toString('latin1', 257, 262) === 'ustar' || buf.every((b) => b === 0)))
      return 'none';
    throw invalid(`layer ${name} is not a tar archive (plain, gzip or zstd)`);
  } finally {
    await fh.close();
  }
}

/** The file at `path` of the tarball, its symlinks resolved, refused when it leads outside. */
async function resolveInside(root: string, path: string): Promise<string> {
  let real: string;
  try {
    real = await realpath(join(root, path));
  } catch {
    throw invalid(`the tarball lacks ${path}`);
  }
  const rel = relative(root, real);
  if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || rel.startsWith(sep))
    throw invalid(`${path} in the tarball leads outside it`);
  if (!(await stat(real)).isFile()) throw invalid(`${path} in the tarball is not a file`);
  return real;
}

/** manifest.json, index.json, manifests and configs are read whole: bounded, as a pull bounds them. */
const MAX_DOCUMENT_BYTES = 16 << 20;

async function readInside(root: string, path: string): Promise<Buffer> {
  return readDocument(await resolveInside(root, path), path);
}

async function readDocument(file: string, name: string): Promise<Buffer> {
  const size = (await stat(file)).size;
  if (size > MAX_DOCUMENT_BYTES)
    throw invalid(
      `${name} in the tarball has ${size} bytes: more than the ${MAX_DOCUMENT_BYTES} a document may`,
    );
  return readFile(file);
}

async function exists(root: string, name: string): Promise<boolean> {
  try {
    await stat(join(root, name));
    return true;
  } catch {
    return false;
  }
}

function parseJson(bytes: Buffer, name: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch {
    throw invalid(`${name} in the tarball is not JSON`);
  }
}

function isArchiveEntry(e: unknown): e is ArchiveEntry {
  if (typeof e !== 'object' || e === null) return false;
  const o = e as Record<string, unknown>;
  const strings = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'string');
  return (
    typeof o.Config === 'string' &&
    strings(o.Layers) &&
    (o.RepoTags === undefined || o.RepoTags === null || strings(o.RepoTags))
  );
}

function invalid(message: string, opts?: { hint?: string }): SkiffError {
  return new SkiffError('invalid_argument', message, opts);
}
