// The registry peer: CNCF distribution (Debian's docker-registry) and skopeo, from the
// test fixtures, which already start it on loopback with storage in a temp dir.
import {
  type BuiltImage,
  buildImage,
  inspectImage,
  pushImage,
  startRegistry,
} from '../../test/fixtures/index.js';
import { literal, onInterrupt } from '../lib/index.js';

export interface RegistryPeer {
  label: string;
  host: string;
  /** The registry's temp directory (config and storage). */
  stateDir: string;
  storageDir: string;
  signatures: RegExp[];
  /** Pushes a busybox image as `name:tag` and returns its reference. */
  pushBusybox(nameTag: string): Promise<string>;
  /** `skopeo inspect` of a reference in this registry; its digest. */
  inspect(reference: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startRegistryPeer(): Promise<RegistryPeer> {
  const registry = await startRegistry();
  const images: BuiltImage[] = [];
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      await registry.stop();
      for (const i of images) await i.remove();
    })().finally(() => unregister());
    return stopped;
  };
  const unregister = onInterrupt(`registry on ${registry.host}`, stop);
  const dir = registry.storageDir.replace(/\/storage$/, '');
  return {
    label: 'docker-registry 2.8 + skopeo',
    host: registry.host,
    stateDir: dir,
    storageDir: registry.storageDir,
    signatures: [new RegExp(literal(dir)), new RegExp(`127\\.0\\.0\\.1:${registry.host.split(':')[1]}`)],
    async pushBusybox(nameTag) {
      const image = await buildImage();
      images.push(image);
      return pushImage(image, registry.host, nameTag);
    },
    async inspect(reference) {
      const info = await inspectImage(reference);
      if (typeof info.Digest !== 'string') throw new Error(`skopeo inspect ${reference} gave no digest`);
      return info.Digest;
    },
    stop,
  };
}
