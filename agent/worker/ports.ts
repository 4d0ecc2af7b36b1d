// The narrow interfaces the worker drives. Each is implemented by one layer of the
// agent's container stack (image, snapshot, network, runtime, volume); adapters in
// agent/worker/adapters.ts bind the real modules, tests bind fakes.
import type { ContainerNetworkAttachment, Mount, PublishedPort } from '../../lib/index.js';
import type { ContainerCreateSpec, ImageRunConfig } from '../runtime/index.js';

/** The parts of an OCI image config a container run needs (the runtime's own type). */
export type { ImageRunConfig };

export interface PulledImage {
  /** Image ID: the config digest. */
  id: string;
  config: ImageRunConfig;
}

export interface ImagePort {
  /** Makes the image present locally, pulling when missing; returns its run config. */
  ensure(ref: string, opts?: { onProgress?: (message: string) => void }): Promise<PulledImage>;
}

export interface RootfsPort {
  /**
   * Mounts a writable root filesystem for the container from the image's layers, with
   * `flags` (nosuid, nodev: the runtime's `rootfsMountFlags`) on the mount.
   */
  mount(containerId: string, imageId: string, flags?: readonly string[]): Promise<{ rootfs: string }>;
  /** Unmounts and removes the container's writable layer; idempotent. */
  remove(containerId: string): Promise<void>;
  /** IDs of the containers with a writable layer on this node, whole or half made. */
  list?(): Promise<string[]>;
}

export interface NetworkPort {
  /** Creates the container's network namespace and attaches it to its networks in order. */
  attach(
    containerId: string,
    attachments: ContainerNetworkAttachment[],
    ports: PublishedPort[],
  ): Promise<{ netnsPath: string; addresses: { networkId: string; ip: string }[]; resolvConf?: string }>;
  /**
   * `attach` in two steps, when the layer can: the namespace (networks set up, resolv.conf
   * known) first, the interfaces in `attached`, so the container is created meanwhile.
   * On a failure of `attached` the sandbox is gone again, as with `attach`.
   */
  sandbox?(
    containerId: string,
    attachments: ContainerNetworkAttachment[],
    ports: PublishedPort[],
  ): Promise<{
    netnsPath: string;
    resolvConf?: string;
    attached: Promise<{ addresses: { networkId: string; ip: string }[] }>;
  }>;
  /**
   * Detaches and removes the namespace; idempotent, also after a crash. The networks
   * the container was on are removed from the node when nothing else uses them.
   */
  detach(containerId: string, networkIds: string[]): Promise<void>;
  /** IDs of the containers with a namespace or an attachment on this node. */
  sandboxes?(): Promise<string[]>;
  /** Publishes (or withdraws, with an empty list) the names this container answers to. */
  setNames?(containerId: string, names: { networkId: string; ip: string; names: string[] }[]): Promise<void>;
}

export interface ResolvedMounts {
  mounts: Mount[];
}

export type ContainerRunState = 'created' | 'running' | 'exited' | 'unknown';
export type HealthState = 'starting' | 'healthy' | 'unhealthy';

export interface ContainerObservation {
  id: string;
  state: ContainerRunState;
  pid?: number;
  exitCode?: number;
  oomKilled?: boolean;
  health?: HealthState;
  labels?: Record<string, string>;
}

/** What the worker asks the runtime to create (the runtime's own request type). */
export type ContainerCreateRequest = ContainerCreateSpec;

export type ContainerEvent =
  | { type: 'exit'; id: string; exitCode: number; oomKilled: boolean }
  | { type: 'health'; id: string; health: HealthState };

export interface RuntimePort {
  create(req: ContainerCreateRequest): Promise<void>;
  start(id: string): Promise<ContainerObservation>;
  stop(id: string, graceMs: number, signal?: string): Promise<void>;
  /**
   * Whether the running container's main process drops its stop signal unseen (a PID 1
   * with no handler for it): stopping it then ends only with SIGKILL after the grace.
   */
  dropsStopSignal?(id: string, signal?: string): Promise<boolean>;
  remove(id: string): Promise<void>;
  inspect(id: string): Promise<ContainerObservation | undefined>;
  /** Every container this node's runtime knows about, for adoption after a restart. */
  list(): Promise<ContainerObservation[]>;
  onEvent(listener: (event: ContainerEvent) => void): () => void;
}
