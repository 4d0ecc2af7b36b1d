// Housekeeping of the node's disk: Docker's `GET /system/df` (so `docker system df`
// works) with skiff's rows for `skiff system df` (state, images, containers, volumes,
// logs), and `POST /skiff/system/prune` for `skiff system prune`. Each node answers for
// its own disk; the raft state is its own manager's.
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import {
  type ContainerUsage,
  image,
  type NodeAgent,
  type NodeDiskUsage,
  nodeDiskUsage,
  prunable,
  pruneNode,
} from '../../agent/index.js';
import { diskUsage } from '../../disk/index.js';
import type {
  DiskUsageContainer,
  DiskUsageRow,
  Logger,
  SystemDiskUsage,
  SystemPruneResult,
} from '../../lib/index.js';
import { SkiffError } from '../../lib/index.js';
import { isTrue } from './filters.js';

/** What the node keeps beside its agent's stores: the raft state and the daemon's log. */
export interface NodeStatePaths {
  stateDir: string;
}

export function registerSystemDiskRoutes(
  app: FastifyInstance,
  agentOf: () => NodeAgent | undefined,
  paths: NodeStatePaths,
  log?: Logger,
): void {
  const agent = () => {
    const a = agentOf();
    if (!a) throw new SkiffError('unavailable', 'the node agent is still starting');
    return a;
  };

  app.get('/system/df', async (): Promise<SystemDiskUsage> => {
    const a = agent();
    const usage = await nodeDiskUsage(a);
    const state = await diskUsage(join(paths.stateDir, 'raft'));
    const daemonLog = await diskUsage(join(paths.stateDir, 'daemon.log'));
    return dockerShape(usage, usageRows(usage, { state, daemonLog }));
  });

  app.post('/skiff/system/prune', async (req): Promise<SystemPruneResult> => {
    const q = req.query as { all?: unknown; volumes?: unknown };
    const r = await pruneNode(agent(), {
      all: isTrue(q.all),
      volumes: isTrue(q.volumes),
      familiar: (ref) => image.familiarReference(image.parseReference(ref)),
      ...(log ? { log } : {}),
    });
    return {
      ContainersDeleted: r.containers,
      NetworksDeleted: r.networks,
      ImagesDeleted: r.images,
      VolumesDeleted: r.volumes,
      SpaceReclaimed: r.bytesFreed,
    };
  });
}

const sum = <T>(xs: readonly T[], f: (x: T) => number) => xs.reduce((n, x) => n + f(x), 0);

/**
 * skiff's rows. Reclaimable is what `system prune` frees: stopped containers no task
 * owns, with their logs; with `-a`, images no container uses; with `--volumes`, volumes
 * no container uses. The state is never reclaimable (raft compacts it itself).
 * `stateBytes` 0 means the node keeps no raft state (a worker).
 */
export function usageRows(u: NodeDiskUsage, other: { state: number; daemonLog: number }): DiskUsageRow[] {
  const running = (c: ContainerUsage) => c.state === 'running';
  const logsOf = (cs: ContainerUsage[]) => sum(cs, (c) => c.logFiles);
  const daemonLogs = other.daemonLog > 0 ? 1 : 0;
  const unusedVolumes = u.volumes.filter((v) => v.info.UsedBy.length === 0);
  return [
    {
      Type: 'State',
      Total: other.state > 0 ? 1 : 0,
      Active: other.state > 0 ? 1 : 0,
      Size: other.state,
      Reclaimable: 0,
    },
    {
      Type: 'Images',
      Total: u.images.length,
      Active: u.images.filter((i) => i.containers > 0).length,
      Size: u.layersSize,
      Reclaimable: u.imagesReclaimable,
    },
    {
      Type: 'Containers',
      Total: u.containers.length,
      Active: u.containers.filter(running).length,
      Size: sum(u.containers, (c) => c.sizeRw),
      Reclaimable: sum(u.containers.filter(prunable), (c) => c.sizeRw),
    },
    {
      Type: 'Local Volumes',
      Total: u.volumes.length,
      Active: u.volumes.length - unusedVolumes.length,
      Size: sum(u.volumes, (v) => v.size),
      Reclaimable: sum(unusedVolumes, (v) => v.size),
    },
    {
      Type: 'Logs',
      Total: logsOf(u.containers) + daemonLogs,
      Active: logsOf(u.containers.filter(running)) + daemonLogs,
      Size: sum(u.containers, (c) => c.logSize) + other.daemonLog,
      Reclaimable: sum(u.containers.filter(prunable), (c) => c.logSize),
    },
  ];
}

function dockerShape(u: NodeDiskUsage, rows: DiskUsageRow[]): SystemDiskUsage {
  const familiar = (ref: string) => image.familiarReference(image.parseReference(ref));
  const nameOf = new Map(u.images.map((i) => [i.record.id, i.record.repoTags[0]]));
  return {
    LayersSize: u.layersSize,
    Images: u.images.map((i) => ({
      Id: i.record.id,
      ParentId: '',
      RepoTags: i.record.repoTags.map(familiar),
      RepoDigests: i.record.repoDigests,
      Created: Math.floor(Date.parse(i.record.created) / 1000),
      Size: i.size,
      SharedSize: i.sharedSize,
      VirtualSize: i.size,
      Labels: i.record.config.config?.Labels ?? {},
      Containers: i.containers,
    })),
    Containers: u.containers.map((c): DiskUsageContainer => {
      const tag = nameOf.get(c.imageId);
      return {
        Id: c.id,
        Names: [`/${c.name}`],
        Image: tag ? familiar(tag) : c.imageId,
        ImageID: c.imageId,
        Command: '',
        Created: c.createdAt ? Math.floor(c.createdAt.getTime() / 1000) : 0,
        Ports: [],
        SizeRw: c.sizeRw,
        SizeRootFs: c.sizeRw + (u.images.find((i) => i.record.id === c.imageId)?.size ?? 0),
        Labels: c.labels,
        // Docker's state names; a writable layer whose container is gone is "dead".
        State: c.state === 'removed' || c.state === 'unknown' ? 'dead' : c.state,
        Status: c.state === 'running' ? 'Up' : c.state === 'created' ? 'Created' : 'Exited',
        HostConfig: { NetworkMode: 'default' },
        NetworkSettings: { Networks: {} },
        Mounts: [],
        Task: c.task,
        LogSize: c.logSize,
      };
    }),
    Volumes: u.volumes.map((v) => ({
      ...v.info,
      UsageData: { Size: v.size, RefCount: v.info.UsedBy.length },
    })),
    BuildCache: [],
    Usage: rows,
  };
}
