// Binds the worker's image, rootfs and runtime ports to agent/image, agent/snapshot
// and agent/runtime.
import type { Logger } from '../../../lib/index.js';
import { SkiffError, silentLogger } from '../../../lib/index.js';
import { type ImageService, type PeerTls, parseReference } from '../../image/index.js';
import type { ContainerRuntime } from '../../runtime/index.js';
import { isMountPoint, mountAll, type Snapshotter, unmountAll } from '../../snapshot/index.js';
import type { ContainerObservation, ImagePort, RootfsPort, RuntimePort } from '../ports.js';

/** Other nodes of the cluster an image pinned by digest can come from. */
export interface ClusterImages {
  /** host:port of the peer endpoints of the other nodes holding `digest`. */
  sources(digest: string): Promise<string[]>;
  tls: () => PeerTls;
}

/** How long a node waits for a holder of a pinned image to be known (its builder announces it at once). */
const SOURCE_WAIT_MS = 3000;

export function imagePort(
  images: ImageService,
  log: Logger = silentLogger,
  cluster?: ClusterImages,
): ImagePort {
  return {
    async ensure(ref, opts) {
      // A local image is used as it is (fast local loops; offline nodes keep working).
      const have = (await images.lookup(ref)) ?? (await fromCluster()) ?? (await pull());
      return { id: have.id, config: have.config.config ?? {} };

      /**
       * An image pinned by digest that another node holds comes from that node (its bytes
       * are what the digest names, wherever they come from): a built image that no registry
       * has, and no registry traffic for what the cluster has. Undefined: the registry next.
       */
      async function fromCluster() {
        const digest = pinnedDigest(ref);
        if (!cluster || !digest) return undefined;
        let peers: string[] = [];
        for (const deadline = Date.now() + SOURCE_WAIT_MS; ; ) {
          peers = await cluster.sources(digest).catch((e: unknown) => {
            log.warn({ image: ref, err: String(e) }, 'cannot ask the managers which nodes hold the image');
            return [];
          });
          if (peers.length > 0 || Date.now() > deadline) break;
          await new Promise((r) => setTimeout(r, 500));
        }
        if (peers.length === 0) return undefined;
        log.info({ image: ref, peers }, 'fetching image from other nodes');
        opts?.onProgress?.(`fetching ${ref} from ${peers.length} node(s) of the cluster`);
        try {
          return await images.pullFromPeers(ref, peers, cluster.tls);
        } catch (e) {
          log.warn({ image: ref, err: String(e) }, 'fetching from other nodes failed; trying the registry');
          return undefined;
        }
      }

      async function pull() {
        log.info({ image: ref }, 'pulling image');
        opts?.onProgress?.(`pulling ${ref}`);
        try {
          return await images.pull(ref);
        } catch (e) {
          const why = e instanceof Error ? e.message : String(e);
          throw new SkiffError('not_found', `No such image: ${ref} (${why})`, { cause: e });
        }
      }
    },
  };
}

function pinnedDigest(ref: string): string | undefined {
  try {
    return parseReference(ref).digest;
  } catch {
    return undefined;
  }
}

export function rootfsPort(images: ImageService, snapshots: Snapshotter): RootfsPort {
  return {
    // Unpack by chain ID, prepare the container's writable snapshot, mount what it answers.
    async mount(containerId, imageId, flags = []) {
      const image = images.get(imageId);
      if (!image) throw new SkiffError('not_found', `No such image: ${imageId}`);
      await snapshots.unpack(image.layers, images.content);
      const mounts = await snapshots.prepare(containerId, image.layers.at(-1)?.chainId, {
        imageId: image.id,
      });
      const rootfs = snapshots.rootfsPath(containerId);
      if (!(await isMountPoint(rootfs)))
        await mountAll(
          mounts.map((m) => ({ ...m, options: [...m.options, ...flags] })),
          rootfs,
        );
      return { rootfs };
    },
    async remove(containerId) {
      await unmountAll(snapshots.rootfsPath(containerId));
      await snapshots.remove(containerId);
    },
    list: () => snapshots.keys(),
  };
}

export function runtimePort(runtime: ContainerRuntime): RuntimePort {
  let adopted = false;
  const observe = (c: Awaited<ReturnType<ContainerRuntime['inspect']>>): ContainerObservation => ({
    id: c.id,
    state: c.state,
    ...(c.pid !== undefined ? { pid: c.pid } : {}),
    ...(c.exitCode !== undefined ? { exitCode: c.exitCode } : {}),
    ...(c.oomKilled !== undefined ? { oomKilled: c.oomKilled } : {}),
    ...(c.health ? { health: c.health.status } : {}),
    labels: c.labels,
  });
  return {
    async create(req) {
      await runtime.create(req);
    },
    async start(id) {
      return observe(await runtime.start(id));
    },
    async stop(id, graceMs, signal) {
      await runtime.stop(id, { graceMs, ...(signal ? { signal } : {}) });
    },
    dropsStopSignal(id, signal) {
      return runtime.dropsStopSignal(id, signal);
    },
    async remove(id) {
      await runtime.delete(id, { force: true });
    },
    async inspect(id) {
      try {
        return observe(await runtime.inspect(id));
      } catch (e) {
        if (e instanceof SkiffError && e.code === 'not_found') return undefined;
        throw e;
      }
    },
    async list() {
      // The first listing after start re-attaches to containers that outlived the agent.
      const all = adopted ? await runtime.list() : await runtime.adopt();
      adopted = true;
      return all.map(observe);
    },
    onEvent(listener) {
      return runtime.onEvent((e) => {
        if (e.type === 'exit')
          listener({ type: 'exit', id: e.id, exitCode: e.exitCode, oomKilled: e.oomKilled });
        else if (e.type === 'health') listener({ type: 'health', id: e.id, health: e.health });
      });
    },
  };
}
