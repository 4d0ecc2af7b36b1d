// Tagging and removing images: changes to the images store only. Blobs and unpacked
// layers stay until garbage collection.
import { SkiffError } from '../../lib/index.js';
import { digestHex } from './digest.js';
import { findImage, IMAGE_ID, looksLikeName, noSuchImage } from './find-image.js';
import { type ImageRecord, type ImageRecords, unique } from './image-records.js';
import { formatReference, parseReference, repositoryName } from './reference.js';

export interface RemoveResult {
  untagged: string[];
  deleted: string[];
}

/** Gives the image `source` names the tag `target`, taking it from any other image. */
export async function tagImage(records: ImageRecords, source: string, target: string): Promise<ImageRecord> {
  const dst = parseReference(target);
  if (dst.digest) throw new SkiffError('invalid_argument', `cannot tag with a digest: ${target}`);
  const tag = formatReference(dst);
  return records.update((images) => {
    const img = findImage(images, source);
    if (!img) throw noSuchImage(source);
    for (const other of images) other.repoTags = other.repoTags.filter((t) => t !== tag);
    img.repoTags = unique([...img.repoTags, tag]);
    return structuredClone(img);
  });
}

/** Removes a tag; the image itself goes when its last tag goes or when named by ID. */
export function removeImage(
  records: ImageRecords,
  ref: string,
  opts: { force?: boolean } = {},
): Promise<RemoveResult> {
  return records.update((images) => {
    const img = findImage(images, ref);
    if (!img) throw noSuchImage(ref);
    const out: RemoveResult = { untagged: [], deleted: [] };
    const byId = IMAGE_ID.test(ref) && !looksLikeName(ref, img);
    if (!byId) {
      const parsed = parseReference(ref);
      if (parsed.digest) {
        const name = `${repositoryName(parsed)}@${parsed.digest}`;
        img.repoDigests = img.repoDigests.filter((d) => d !== name);
        out.untagged.push(name);
      } else {
        const tag = formatReference(parsed);
        img.repoTags = img.repoTags.filter((t) => t !== tag);
        out.untagged.push(tag);
      }
      if (img.repoTags.length > 0) return out;
    } else if (img.repoTags.length > 1 && !opts.force) {
      throw new SkiffError(
        'conflict',
        `image ${digestHex(img.id).slice(0, 12)} has several tags (${img.repoTags.join(', ')})`,
        {
          hint: 'remove it by tag, or use --force to remove every tag',
        },
      );
    } else {
      out.untagged.push(...img.repoTags);
    }
    images.splice(images.indexOf(img), 1);
    out.deleted.push(img.id);
    return out;
  });
}
