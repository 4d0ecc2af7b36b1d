import { describe, expect, it } from 'vitest';
import { findImage, type ImageRecord, MediaType } from '../../../agent/image/index.js';

const hex = (c: string) => c.repeat(64);

function image(
  id: string,
  tags: string[],
  digests: string[] = [],
  manifest = `sha256:${hex('9')}`,
): ImageRecord {
  return {
    id: `sha256:${id}`,
    repoTags: tags,
    repoDigests: digests,
    config: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } },
    layers: [],
    platform: { os: 'linux', architecture: 'amd64' },
    size: 0,
    manifestDigest: manifest,
    manifestMediaType: MediaType.ociManifest,
    created: '2026-01-01T00:00:00Z',
  };
}

const a = image(
  `ab${hex('1').slice(2)}`,
  ['docker.io/library/busybox:latest', 'reg:5000/app:v1'],
  [`reg:5000/app@sha256:${hex('d')}`],
);
const b = image(`ac${hex('2').slice(2)}`, ['docker.io/library/abcd:latest'], [], `sha256:${hex('e')}`);
const images = [a, b];

describe('findImage', () => {
  it('finds by familiar or full tag', () => {
    expect(findImage(images, 'busybox')).toBe(a);
    expect(findImage(images, 'docker.io/library/busybox:latest')).toBe(a);
    expect(findImage(images, 'reg:5000/app:v1')).toBe(a);
    expect(findImage(images, 'reg:5000/app:v2')).toBeUndefined();
  });

  it('finds by repo digest, and by manifest digest within a known repository', () => {
    expect(findImage(images, `reg:5000/app@sha256:${hex('d')}`)).toBe(a);
    expect(findImage(images, `abcd@sha256:${hex('e')}`)).toBe(b);
    expect(findImage(images, `other@sha256:${hex('e')}`)).toBeUndefined();
  });

  it('finds by full or unique short ID; a tag wins over an ID prefix', () => {
    expect(findImage(images, a.id)).toBe(a);
    expect(findImage(images, a.id.slice(7))).toBe(a);
    expect(findImage(images, 'ab11')).toBe(a);
    expect(findImage(images, 'a')).toBeUndefined(); // too short
    expect(findImage(images, 'ac22')).toBe(b);
    expect(findImage(images, 'abcd')).toBe(b); // the image named abcd, not the ID prefix
  });
});
