// `GET /system/df` and `POST /skiff/system/prune`: what a node's disk holds and what
// housekeeping removed. `/system/df` is Docker's answer (so `docker system df` works)
// plus `Usage`, skiff's rows for `skiff system df`; the prune answer is skiff's own.
import type { DockerVolume, ImageSummary } from './image-protocol.js';

/** One row of `skiff system df`. */
export interface DiskUsageRow {
  Type: 'State' | 'Images' | 'Containers' | 'Local Volumes' | 'Logs';
  Total: number;
  Active: number;
  /** Bytes, as `du -sbx` counts them. */
  Size: number;
  /** Bytes `skiff system prune` (with `-a --volumes` for images and volumes) would free. */
  Reclaimable: number;
}

/** Docker's ImageSummary as `/system/df` gives it (sizes filled in, Containers counted). */
export type DiskUsageImage = ImageSummary;

/** Docker's ContainerSummary as `/system/df` gives it. */
export interface DiskUsageContainer {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  Command: string;
  Created: number;
  Ports: never[];
  SizeRw: number;
  SizeRootFs: number;
  Labels: Record<string, string>;
  State: string;
  Status: string;
  HostConfig: { NetworkMode: string };
  NetworkSettings: { Networks: Record<string, never> };
  Mounts: never[];
  /** skiff: whether the container runs an assigned task (prune leaves those). */
  Task: boolean;
  /** skiff: bytes of its log files. */
  LogSize: number;
}

export interface SystemDiskUsage {
  LayersSize: number;
  Images: DiskUsageImage[];
  Containers: DiskUsageContainer[];
  Volumes: DockerVolume[];
  BuildCache: never[];
  /** skiff's rows: state, images, containers, volumes, logs. */
  Usage: DiskUsageRow[];
}

/** `POST /skiff/system/prune?all=&volumes=`. */
export interface SystemPruneResult {
  ContainersDeleted: string[];
  NetworksDeleted: string[];
  ImagesDeleted: { Untagged?: string; Deleted?: string }[];
  VolumesDeleted: string[];
  SpaceReclaimed: number;
}
