// The image and volume endpoints' answers, as the node serves them (node/api/): Docker's
// shapes, plus the few fields skiff's CLI shows that Docker's lack.

/**
 * The content type skiff's CLI sends an image tarball with (docker's sends text/plain):
 * the node hands it to the route as a stream, read as long as the upload takes.
 */
export const TARBALL_CONTENT_TYPE = 'application/x-tar';

/** On `docker save` of one image: the bytes of its blobs, a progress bar's total (`image push --to-cluster`). */
export const IMAGE_SIZE_HEADER = 'x-skiff-image-size';

/** GET /images/json: Docker's ImageSummary. */
export interface ImageSummary {
  Id: string;
  ParentId: string;
  /** Familiar names: `busybox:latest`. */
  RepoTags: string[];
  RepoDigests: string[];
  /** Unix seconds. */
  Created: number;
  Size: number;
  SharedSize: number;
  VirtualSize: number;
  Labels: Record<string, string>;
  Containers: number;
}

export interface ImageLayerInfo {
  digest: string;
  diffId: string;
  chainId: string;
  size: number;
  mediaType: string;
}

/** GET /images/{name}/json: Docker's ImageInspect plus skiff's Platform, Layers, Manifest and ImageConfig. */
export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  /** RFC 3339: when this node got the image. */
  Created: string;
  Size: number;
  /** `os/arch[/variant]` */
  Platform: string;
  Parent: string;
  Comment: string;
  DockerVersion: string;
  Author: string;
  Architecture: string;
  Os: string;
  Variant?: string;
  Config: Record<string, unknown>;
  GraphDriver: { Name: string; Data: Record<string, string> };
  RootFS: { Type: string; Layers: string[] };
  Metadata: { LastTagTime: string };
  Layers: ImageLayerInfo[];
  Manifest: { Digest: string; MediaType: string; Index: string | undefined };
  ImageConfig: { os: string; architecture: string; variant?: string } & Record<string, unknown>;
}

/** POST /images/prune: Docker's answer plus skiff's blob and unpacked-layer counts. */
export interface PruneImagesResult {
  ImagesDeleted: { Untagged?: string; Deleted?: string }[];
  SpaceReclaimed: number;
  BlobsRemoved: number;
  SnapshotsRemoved: number;
}

/** GET /volumes, GET /volumes/{name}: Docker's Volume plus the containers using it. */
export interface DockerVolume {
  Name: string;
  Driver: string;
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Options: Record<string, string>;
  Scope: string;
  UsageData: { Size: number; RefCount: number };
  UsedBy: string[];
}

/** `POST /skiff/images/distribute` (`image push --to-cluster`): which image, to which nodes. */
export interface DistributeRequest {
  /** The image pinned by its manifest digest (`name@sha256:…`), held by the node serving the API. */
  ref: string;
  /** Node IDs (or unique prefixes) or hostnames; none: every ready node. */
  nodes?: string[];
}

/**
 * One JSON line of its answer per event: a node's fetch progress (bytes of the blobs it
 * lacks), its end (`fetched: false`: it held the image already), or its failure. The
 * peer endpoint's answer to a manager has the same lines without `node` and `hostname`.
 */
export type DistributeMessage = { node: string; hostname: string } & DistributeEvent;

export type DistributeEvent =
  | { status: 'fetching'; current: number; total: number }
  | { status: 'done'; fetched: boolean }
  | { status: 'failed'; error: string };
