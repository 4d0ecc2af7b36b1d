// What the worker does to give a container its rootfs, for tests holding an image record:
// unpack its layers by chain ID, prepare a writable snapshot on the top one, and mount
// what the snapshotter answers where it says.
import type { ImageRecord } from '../../../agent/image/index.js';
import { type BlobSource, isMountPoint, mountAll, type Snapshotter } from '../../../agent/snapshot/index.js';

export async function mountImage(
  snapshots: Snapshotter,
  key: string,
  image: ImageRecord,
  content?: BlobSource,
): Promise<{ rootfs: string }> {
  await snapshots.unpack(image.layers, content);
  const mounts = await snapshots.prepare(key, image.layers.at(-1)?.chainId, { imageId: image.id });
  const rootfs = snapshots.rootfsPath(key);
  if (!(await isMountPoint(rootfs))) await mountAll(mounts, rootfs);
  return { rootfs };
}
