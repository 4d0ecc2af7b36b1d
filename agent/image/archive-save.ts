// `docker save`: images of the store as one tarball, laid out as dockerd 25+ writes it, so
// docker's loaders and OCI tools both read it: an OCI image layout (`oci-layout`,
// `index.json`, `blobs/sha256/…`) with docker-archive's `manifest.json` and `repositories`
// naming the same blobs. Layers go as the store keeps them (compressed, as pulled) rather
// than recompressed or inflated: dockerd's and containers/image's loaders decompress
// what they read, and checking against the config's diff IDs still holds.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { SkiffError } from '../../lib/index.js';
import type { ContentStore } from './content-store.js';
import { digestHex } from './digest.js';
import { exportLayout, type LayoutImage } from './export-layout.js';
import { findImage, noSuchImage } from './find-image.js';
import type { ImageRecord } from './image-records.js';
import { familiarReference, formatReference, parseReference, repositoryName } from './reference.js';

/** An image to save and the tags (full references) it is saved under. */
export interface SaveEntry {
  record: ImageRecord;
  tags: string[];
}

/**
 * The images `names` ask for, as dockerd resolves them: a name without tag or digest
 * is every tag of that repository; a tag is that tag; an ID or digest is the image
 * without a tag. An image asked for twice is saved once with all its tags.
 */
export function resolveSaveNames(images: readonly ImageRecord[], names: readonly string[]): SaveEntry[] {
  if (names.length === 0) throw new SkiffError('invalid_argument', 'no image to save: name at least one');
  const out = new Map<string, SaveEntry>();
  const add = (record: ImageRecord, tag: string | undefined) => {
    const entry = out.get(record.id) ?? { record, tags: [] };
    if (tag && !entry.tags.includes(tag)) entry.tags.push(tag);
    out.set(record.id, entry);
  };
  for (const name of names) {
    const nameOnly = !/[:@]/.test(name.slice(name.lastIndexOf('/') + 1));
    let repo: string | undefined;
    try {
      repo = nameOnly ? repositoryName(parseReference(name)) : undefined;
    } catch {
      repo = undefined;
    }
    const tagged = repo
      ? images.flatMap((i) => i.repoTags.filter((t) => t.startsWith(`${repo}:`)).map((t) => ({ i, t })))
      : [];
    if (tagged.length > 0) {
      for (const { i, t } of tagged) add(i, t);
      continue;
    }
    const record = findImage(images, name);
    if (!record) throw noSuchImage(name);
    let tag: string | undefined;
    try {
      const ref = parseReference(name);
      tag = ref.digest ? undefined : formatReference(ref);
    } catch {
      tag = undefined; // an ID
    }
    add(record, tag && record.repoTags.includes(tag) ? tag : undefined);
  }
  return [...out.values()];
}

/** Writes the archive's files for `entries` into the empty directory `dir` (blobs as hard links). */
export async function writeArchiveDir(
  content: ContentStore,
  entries: readonly SaveEntry[],
  dir: string,
): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const layout: LayoutImage[] = entries.flatMap(({ record, tags }) =>
    tags.length === 0
      ? [{ record }]
      : tags.map((t) => ({
          record,
          annotations: {
            'io.containerd.image.name': t,
            'org.opencontainers.image.ref.name': parseReference(t).tag ?? '',
          },
        })),
  );
  await exportLayout(content, layout, dir);
  const blobPath = (d: string) => `blobs/sha256/${digestHex(d)}`;
  const manifest = entries.map(({ record, tags }) => ({
    Config: blobPath(record.id),
    RepoTags: tags.map((t) => familiarReference(parseReference(t))),
    Layers: record.layers.map((l) => blobPath(l.digest)),
  }));
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
  const repositories: Record<string, Record<string, string>> = {};
  for (const { record, tags } of entries) {
    const top = record.layers[record.layers.length - 1];
    if (!top) continue;
    for (const t of tags) {
      const ref = parseReference(t);
      const repo = familiarReference({ ...ref, tag: undefined, digest: undefined });
      repositories[repo] = { ...repositories[repo], [ref.tag ?? 'latest']: digestHex(top.digest) };
    }
  }
  if (Object.keys(repositories).length > 0)
    await writeFile(join(dir, 'repositories'), JSON.stringify(repositories));
}

/**
 * The tarball of `entries` as a stream, made from the scratch directory `dir`; `release`
 * removes it (called once the stream ends; the caller calls it too when the reader goes).
 */
export async function saveArchive(
  content: ContentStore,
  entries: readonly SaveEntry[],
  dir: string,
): Promise<{ stream: Readable; release: () => void }> {
  try {
    await writeArchiveDir(content, entries, dir);
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
  const files = ['blobs', 'index.json', 'manifest.json', 'oci-layout'];
  if (entries.some((e) => e.tags.length > 0 && e.record.layers.length > 0)) files.push('repositories');
  // node-tar loads with the first save, not with every node start.
  const { create } = await import('tar');
  const tar = create({ cwd: dir, portable: true, follow: false }, files) as unknown as Readable;
  let removed = false;
  const release = () => {
    if (removed) return;
    removed = true;
    void rm(dir, { recursive: true, force: true });
  };
  tar.once('end', release);
  tar.once('error', release);
  return { stream: tar, release };
}
