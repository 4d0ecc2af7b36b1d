// Which images `docker save NAME…` writes, and under which tags (agent/image/archive-save.ts).
import { describe, expect, it } from 'vitest';
import { resolveSaveNames } from '../../../agent/image/archive-save.js';
import { type ImageRecord, MediaType } from '../../../agent/image/index.js';

function image(hexChar: string, tags: string[]): ImageRecord {
  return {
    id: `sha256:${hexChar.repeat(64)}`,
    repoTags: tags,
    repoDigests: [],
    config: { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } },
    layers: [],
    platform: { os: 'linux', architecture: 'amd64' },
    size: 0,
    manifestDigest: `sha256:${'9'.repeat(64)}`,
    manifestMediaType: MediaType.ociManifest,
    created: '2026-01-01T00:00:00Z',
  };
}

const a = image('a', ['docker.io/library/busybox:latest', 'docker.io/library/busybox:1.36']);
const b = image('b', ['docker.io/library/busybox:old', 'localhost/app:1']);
const images = [a, b];
const saved = (names: string[]) =>
  resolveSaveNames(images, names).map((e) => ({ id: e.record.id[7], tags: e.tags }));

describe('resolveSaveNames', () => {
  it('a name without tag is every tag of its repository, as dockerd saves it', () => {
    expect(saved(['busybox'])).toEqual([
      { id: 'a', tags: ['docker.io/library/busybox:latest', 'docker.io/library/busybox:1.36'] },
      { id: 'b', tags: ['docker.io/library/busybox:old'] },
    ]);
  });

  it('a tag is that tag; the same image asked twice is one entry with both tags', () => {
    expect(saved(['busybox:1.36', 'localhost/app:1', 'busybox:latest'])).toEqual([
      { id: 'a', tags: ['docker.io/library/busybox:1.36', 'docker.io/library/busybox:latest'] },
      { id: 'b', tags: ['localhost/app:1'] },
    ]);
  });

  it('an ID saves the image untagged', () => {
    expect(saved(['bbbbbbbbbbbb'])).toEqual([{ id: 'b', tags: [] }]);
  });

  it('a missing image or no name at all is refused', () => {
    expect(() => saved(['busybox:nope'])).toThrow(/no such image: busybox:nope/);
    expect(() => saved(['nothing'])).toThrow(/no such image: nothing/);
    expect(() => saved([])).toThrow(/no image to save/);
  });
});
