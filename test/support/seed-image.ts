// Puts an image into a node's store before the node runs, as a machine image would bring
// it: a worker serves no image API, and the lab clusters need the image on every node
// from the start. The same import the node's API does, on its state directory.
import { ImageService } from '../../agent/image/index.js';
import { Snapshotter } from '../../agent/snapshot/index.js';

export async function seedImage(stateDir: string, tarball: string, ref: string): Promise<void> {
  const images = new ImageService({ root: stateDir, unpacker: new Snapshotter({ root: stateDir }) });
  try {
    await images.importRootfs(tarball, ref);
  } finally {
    await images.close();
  }
}
