// A garbage collection while a pull is under way keeps the blobs that pull has already
// fetched: they belong to an image not recorded yet (the first layer lands long before
// the last one, and is unpacked meanwhile).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ImageService, sha256 } from '../../../agent/image/index.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const first = Buffer.from('first layer');
const second = Buffer.from('second layer');
const config = Buffer.from(
  JSON.stringify({
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: [sha256(first), sha256(second)] },
  }),
);
const layer = (b: Buffer) => ({
  mediaType: 'application/vnd.oci.image.layer.v1.tar',
  digest: sha256(b),
  size: b.length,
});
const manifest = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: sha256(config),
      size: config.length,
    },
    layers: [layer(first), layer(second)],
  }),
);

describe('image GC during a pull', () => {
  it('keeps the blobs a pull under way has fetched, then frees them once nothing records them', async () => {
    const root = await mkdtemp(join(tmpdir(), 'skiff-pullgc-'));
    dirs.push(root);
    const svc = new ImageService({ root });
    let release!: () => void;
    const secondMayCome = new Promise<void>((r) => {
      release = r;
    });
    const blobs = new Map([config, first, second].map((b) => [sha256(b), b]));
    const source = {
      getManifest: async () => ({
        bytes: manifest,
        contentType: 'application/vnd.oci.image.manifest.v1+json',
        digest: undefined,
      }),
      openBlob: async (_ref: unknown, digest: string) => {
        if (digest === sha256(second)) await secondMayCome;
        return { body: Readable.from([blobs.get(digest)!]), offset: 0 };
      },
    };
    const pulled = svc.pull(`localhost/app@${sha256(manifest)}`, { from: source });
    await vi.waitFor(async () => expect(await svc.content.has(sha256(first))).toBe(true), {
      timeout: 10_000,
    });
    expect((await svc.gc()).blobsRemoved).toBe(0);
    expect(await svc.content.has(sha256(first))).toBe(true);
    expect(await svc.content.has(sha256(config))).toBe(true);
    release();
    const record = await pulled;
    expect(record.layers.map((l) => l.digest)).toEqual([sha256(first), sha256(second)]);
    await svc.remove(record.id, { force: true });
    expect((await svc.gc()).blobsRemoved).toBe(4);
  });
});
