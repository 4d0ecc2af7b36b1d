// Pushing a local image to the registry its tag names: the blobs the registry lacks,
// then the manifest; the registry's digest is recorded as a repo digest.
import { type PushProgressEvent, SkiffError } from '../../lib/index.js';
import type { ContentStore } from './content-store.js';
import type { Distribution } from './distribution.js';
import { findImage, noSuchImage } from './find-image.js';
import { type ImageRecords, unique } from './image-records.js';
import type { Limiter } from './limiter.js';
import { formatReference, parseReference, repositoryName } from './reference.js';

/** A push's progress, as the node's API sends it on (lib's wire contract). */
export type PushEvent = PushProgressEvent;

export interface PushDeps {
  content: ContentStore;
  records: ImageRecords;
  dist: Distribution;
  limiter: Limiter;
}

export async function pushImage(
  deps: PushDeps,
  ref: string,
  opts: { onProgress?: (e: PushEvent) => void } = {},
): Promise<{ digest: string }> {
  const { content, records, dist, limiter } = deps;
  const parsed = parseReference(ref);
  if (!parsed.tag) throw new SkiffError('invalid_argument', `push needs a tag: ${ref}`);
  const tag = formatReference(parsed);
  const img = findImage(await records.load(), tag);
  if (!img) throw noSuchImage(ref, `tag the image with \`skiff image tag SOURCE ${ref}\` first`);
  const emit = opts.onProgress ?? (() => undefined);
  const blobs = [
    ...img.layers.map((l) => ({ digest: l.digest, size: l.size })),
    { digest: img.id, size: -1 },
  ];
  await Promise.all(
    blobs.map((b) =>
      limiter.run(async () => {
        const size = (await content.size(b.digest)) ?? -1;
        if (size < 0) {
          throw new SkiffError('not_found', `blob ${b.digest} of ${ref} is missing from the content store`, {
            hint: 'pull the image again before pushing it',
          });
        }
        if (await dist.blobExists(parsed, b.digest)) {
          emit({ type: 'blob', digest: b.digest, status: 'exists', size });
          return;
        }
        emit({ type: 'blob', digest: b.digest, status: 'pushing', size });
        await dist.uploadBlob(parsed, b.digest, size, () => content.createReadStream(b.digest));
        emit({ type: 'blob', digest: b.digest, status: 'done', size });
      }),
    ),
  );
  const manifestBytes = await content.read(img.manifestDigest);
  await dist.putManifest(parsed, parsed.tag, manifestBytes, img.manifestMediaType);
  const repoDigest = `${repositoryName(parsed)}@${img.manifestDigest}`;
  await records.update((images) => {
    const target = images.find((i) => i.id === img.id);
    if (target) target.repoDigests = unique([...target.repoDigests, repoDigest]);
  });
  emit({ type: 'done', ref: tag, digest: img.manifestDigest });
  return { digest: img.manifestDigest };
}
