// How a user names a local image: by tag, by repo digest, by manifest digest, or by its
// full or short ID (the config digest), as docker resolves them.
import { SkiffError } from '../../lib/index.js';
import { digestHex } from './digest.js';
import type { ImageRecord } from './image-records.js';
import { formatReference, type ImageReference, parseReference, repositoryName } from './reference.js';

/** A full or short image ID, with or without `sha256:`. */
export const IMAGE_ID = /^(?:sha256:)?([a-f0-9]{4,64})$/;

/** Finds an image by tag, repo digest, manifest digest, full or unique short ID. */
export function findImage(images: readonly ImageRecord[], refOrId: string): ImageRecord | undefined {
  let parsed: ImageReference | undefined;
  try {
    parsed = parseReference(refOrId);
  } catch {
    parsed = undefined;
  }
  if (parsed) {
    if (parsed.digest) {
      const name = `${repositoryName(parsed)}@${parsed.digest}`;
      const hit = images.find(
        (i) => i.repoDigests.includes(name) || (i.manifestDigest === parsed.digest && sameRepo(i, parsed)),
      );
      if (hit) return hit;
    } else {
      const tag = formatReference(parsed);
      const hit = images.find((i) => i.repoTags.includes(tag));
      if (hit) return hit;
    }
  }
  const m = IMAGE_ID.exec(refOrId);
  if (m) {
    const hex = m[1]!;
    const hits = images.filter((i) => digestHex(i.id).startsWith(hex));
    if (hits.length === 1) return hits[0];
  }
  return undefined;
}

/** `abcd` could be a short ID or an image named abcd: a tag match wins, as in docker. */
export function looksLikeName(ref: string, img: ImageRecord): boolean {
  try {
    const tag = formatReference(parseReference(ref));
    return img.repoTags.includes(tag);
  } catch {
    return false;
  }
}

export function noSuchImage(ref: string, hint?: string): SkiffError {
  return new SkiffError('not_found', `no such image: ${ref}`, {
    hint: hint ?? 'list local images with `skiff image ls`',
  });
}

function sameRepo(img: ImageRecord, ref: ImageReference): boolean {
  const repo = repositoryName(ref);
  return (
    img.repoTags.some((t) => t.startsWith(`${repo}:`)) ||
    img.repoDigests.some((d) => d.startsWith(`${repo}@`))
  );
}
