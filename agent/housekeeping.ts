// What the node's disk holds and what no task needs any more: the inventory behind
// `skiff system df` (and Docker's `GET /system/df`) and the removals of `system prune`.
// Sizes are counted as `du -sbx` counts them (disk/usage.ts): a mounted rootfs is
// another filesystem and not part of its container's writable layer.
import { readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { diskUsage } from '../disk/index.js';
import { type Logger, SkiffError, silentLogger } from '../lib/index.js';
import type { ImageRecord } from './image/index.js';
import type { NodeAgent } from './node-agent.js';
import type { ContainerState } from './runtime/index.js';
import type { VolumeInfo } from './volume/index.js';

export interface ImageUsage {
  record: ImageRecord;
  /** Its blobs and unpacked layers. */
  size: number;
  /** The part of `size` another image holds too. */
  sharedSize: number;
  /** Containers (writable layers) made from it. */
  containers: number;
}

export interface ContainerUsage {
  id: string;
  name: string;
  imageId: string;
  state: ContainerState | 'removed';
  createdAt: Date | undefined;
  labels: Record<string, string>;
  /** The writable layer (`containers/<id>`, its mounted rootfs left out). */
  sizeRw: number;
  logSize: number;
  logFiles: number;
  /** An assigned task's container: prune leaves it. */
  task: boolean;
}

export interface NodeDiskUsage {
  /** Content store (blobs) and unpacked layers, all of them. */
  layersSize: number;
  /** Of layersSize, what no container's image nor writable layer uses. */
  imagesReclaimable: number;
  images: ImageUsage[];
  containers: ContainerUsage[];
  volumes: { info: VolumeInfo; size: number }[];
}

/** Images a container on this node was made from. */
export async function imagesInUse(a: NodeAgent): Promise<Set<string>> {
  // A removed container's writable layer is released behind the removal's answer.
  await a.containers.settled();
  return new Set((await a.snapshots.list()).map((c) => c.imageId));
}

/** Everything the node's disk holds, with sizes. */
export async function nodeDiskUsage(a: NodeAgent): Promise<NodeDiskUsage> {
  // What removed containers leave is released behind their removal's answer: not counted.
  await a.containers.settled();
  const records = await a.images.refresh();
  const writable = await a.snapshots.list();
  const runtime = await a.runtime.list();

  // Each blob and unpacked layer once, then which images hold it.
  const blobSize = new Map<string, number>();
  for (const d of await a.images.content.list()) blobSize.set(d, (await a.images.content.size(d)) ?? 0);
  const snapSize = new Map<string, number>();
  for (const c of await a.snapshots.listSnapshots())
    snapSize.set(c, await diskUsage(a.snapshots.snapshotDir(c)));
  const partsOf = (img: ImageRecord): string[] => [
    ...new Set([
      img.id,
      img.manifestDigest,
      ...(img.indexDigest ? [img.indexDigest] : []),
      ...img.layers.map((l) => l.digest),
      ...img.layers.map((l) => `snap:${l.chainId}`),
    ]),
  ];
  const sizeOf = (part: string): number =>
    part.startsWith('snap:') ? (snapSize.get(part.slice(5)) ?? 0) : (blobSize.get(part) ?? 0);
  const holders = new Map<string, number>();
  for (const img of records) for (const p of partsOf(img)) holders.set(p, (holders.get(p) ?? 0) + 1);
  const containersOf = new Map<string, number>();
  for (const c of writable) containersOf.set(c.imageId, (containersOf.get(c.imageId) ?? 0) + 1);
  const images = records.map((record) => {
    const parts = partsOf(record);
    return {
      record,
      size: parts.reduce((n, p) => n + sizeOf(p), 0),
      sharedSize: parts.filter((p) => (holders.get(p) ?? 0) > 1).reduce((n, p) => n + sizeOf(p), 0),
      containers: containersOf.get(record.id) ?? 0,
    };
  });

  const layersSize = (await diskUsage(a.images.content.root)) + (await diskUsage(a.snapshots.snapshotsDir));
  // What prune -a could free: each blob and unpacked layer no in-use image nor
  // container holds (the stores' own directories are not reclaimable).
  const used = new Set<string>();
  for (const img of images) if (img.containers > 0) for (const p of partsOf(img.record)) used.add(p);
  for (const c of writable) for (const chain of c.chainIds) used.add(`snap:${chain}`);
  const allParts = [...blobSize.keys(), ...[...snapSize.keys()].map((c) => `snap:${c}`)];
  const imagesReclaimable = allParts.filter((p) => !used.has(p)).reduce((n, p) => n + sizeOf(p), 0);

  const byId = new Map(runtime.map((c) => [c.id, c]));
  const ids = [...new Set([...runtime.map((c) => c.id), ...writable.map((c) => c.id)])].sort();
  const imageOf = new Map(writable.map((c) => [c.id, c.imageId]));
  const containers: ContainerUsage[] = [];
  for (const id of ids) {
    const info = byId.get(id);
    const logs = info ? await logFiles(info.logPath) : [];
    const layerDir = join(a.snapshots.containersDir, id);
    containers.push({
      id,
      name: info?.name ?? id,
      imageId: imageOf.get(id) ?? '',
      state: info?.state ?? 'removed',
      // A layer without its container (an agent that crashed): when the layer was made.
      createdAt:
        info?.createdAt ??
        (await stat(layerDir).then(
          (st) => st.mtime,
          () => undefined,
        )),
      labels: info?.labels ?? {},
      sizeRw: await diskUsage(layerDir),
      logSize: logs.reduce((n, l) => n + l.size, 0),
      logFiles: logs.length,
      task: a.worker.claims(id),
    });
  }

  const volumes = [];
  for (const info of await a.volumes.list()) volumes.push({ info, size: await diskUsage(info.Mountpoint) });
  return {
    layersSize,
    imagesReclaimable,
    images,
    containers,
    volumes,
  };
}

/** A container prune removes: stopped, and no assigned task's. */
export function prunable(c: Pick<ContainerUsage, 'state' | 'task'>): boolean {
  return c.state !== 'running' && !c.task;
}

async function logFiles(logPath: string): Promise<{ size: number }[]> {
  const dir = dirname(logPath);
  const names = await readdir(dir).catch(() => [] as string[]);
  const out = [];
  for (const n of names) if (n.startsWith('ctr.log')) out.push({ size: await diskUsage(join(dir, n)) });
  return out;
}

export interface PruneImagesOutcome {
  deleted: { Untagged?: string; Deleted?: string }[];
  blobsRemoved: number;
  snapshotsRemoved: number;
  bytesFreed: number;
}

/**
 * Removes untagged images (every image with `all`) no container was made from, then the
 * blobs and unpacked layers nothing references. `familiar` names tags as the caller shows them.
 */
export async function pruneImages(
  a: NodeAgent,
  all: boolean,
  familiar: (ref: string) => string = (r) => r,
): Promise<PruneImagesOutcome> {
  const inUse = await imagesInUse(a);
  const deleted: { Untagged?: string; Deleted?: string }[] = [];
  for (const img of await a.images.refresh()) {
    if (inUse.has(img.id) || (!all && img.repoTags.length > 0)) continue;
    const result = await a.images.remove(img.id, { force: true });
    deleted.push(...result.untagged.map((t) => ({ Untagged: familiar(t) })), { Deleted: img.id });
  }
  const blobs = await a.images.gc();
  const keep = (await a.images.refresh()).flatMap((i) => i.layers.map((l) => l.chainId));
  const snaps = await a.snapshots.gc(keep);
  return {
    deleted,
    blobsRemoved: blobs.blobsRemoved,
    snapshotsRemoved: snaps.snapshotsRemoved,
    bytesFreed: blobs.bytesFreed + snaps.bytesFreed,
  };
}

export interface PruneOptions {
  /** Every image no container uses, not only untagged ones. */
  all?: boolean;
  /** Volumes no container uses too. */
  volumes?: boolean;
  familiar?: (ref: string) => string;
  log?: Logger;
}

export interface PruneOutcome {
  containers: string[];
  networks: string[];
  images: { Untagged?: string; Deleted?: string }[];
  volumes: string[];
  bytesFreed: number;
}

/**
 * `system prune`: stopped containers no task owns (with their writable layers, logs and
 * network attachments), networks set up here that no container is attached to, images
 * (untagged, or with `all` every one no container uses) and, with `volumes`, volumes no
 * container uses. What a task needs is left alone.
 */
export async function pruneNode(a: NodeAgent, opts: PruneOptions = {}): Promise<PruneOutcome> {
  const log = (opts.log ?? silentLogger).child({ component: 'prune' });
  let bytesFreed = 0;
  const containers: string[] = [];
  const usage = await nodeDiskUsage(a);
  for (const c of usage.containers) {
    // Judged again now: a task may have claimed it since the listing.
    if (!prunable({ state: c.state, task: a.worker.claims(c.id) })) continue;
    try {
      if (c.state !== 'removed') await a.runtime.delete(c.id);
      await a.network.detach(c.id);
      await a.snapshots.remove(c.id);
    } catch (e) {
      // Started again meanwhile (a conflict), or half gone: it stays for the next prune.
      if (e instanceof SkiffError && e.code === 'conflict') continue;
      log.warn({ containerId: c.id, err: String(e) }, 'could not remove a stopped container');
      continue;
    }
    bytesFreed += c.sizeRw + c.logSize;
    containers.push(c.id);
    log.info({ containerId: c.id }, 'pruned a stopped container');
  }

  const networks: string[] = [];
  for (const n of a.network.listNetworks()) {
    try {
      await a.network.removeNetwork(n.id);
      networks.push(n.name);
    } catch (e) {
      if (!(e instanceof SkiffError && e.code === 'conflict'))
        log.warn({ networkId: n.id, err: String(e) }, 'could not remove an unused network');
    }
  }

  const images = await pruneImages(a, opts.all === true, opts.familiar);
  bytesFreed += images.bytesFreed;

  const volumes: string[] = [];
  if (opts.volumes) {
    const sizes = new Map(usage.volumes.map((v) => [v.info.Name, v.size]));
    for (const name of await a.volumes.prune()) {
      volumes.push(name);
      bytesFreed += sizes.get(name) ?? 0;
    }
  }
  return { containers, networks, images: images.deleted, volumes, bytesFreed };
}
