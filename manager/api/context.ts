import type { EngineLocalNetwork, Logger } from '../../lib/index.js';
import type { RaftMembership } from '../ca/index.js';
import type { Replicator, Store } from '../store/index.js';
import type { EventLog } from './events.js';

/** Facts about the node serving the API, shown by /info and /version. */
export interface ApiInfo {
  nodeId: string;
  hostname: string;
  /** Address other nodes reach this manager at (host:port). */
  addr?: string;
  /** Shown as DockerRootDir. */
  stateDir?: string;
  /** skiff's version, shown as ServerVersion. */
  version?: string;
  /**
   * What confines this node's containers (its agent's answer), shown as SecurityOptions
   * and Warnings; none on a manager without an agent, which runs no containers.
   */
  security?: () => { options: string[]; warnings: string[] } | undefined;
  /** This node's containers and images (its agent's), shown as Containers… and Images. */
  counts?: () => Promise<NodeCounts | undefined>;
}

export interface NodeCounts {
  containers: number;
  running: number;
  paused: number;
  stopped: number;
  images: number;
}

export interface LogQuery {
  follow: boolean;
  timestamps: boolean;
  details: boolean;
  tail?: number;
  since?: Date;
}

export interface TaskLogLine {
  taskId: string;
  stream: 'stdout' | 'stderr';
  time: Date;
  line: string;
}

/** Where task logs come from (the node agents); the daemon provides it. */
export type LogSource = (
  tasks: readonly import('../../lib/index.js').Task[],
  q: LogQuery,
  signal: AbortSignal,
) => AsyncIterable<TaskLogLine>;

/** What the nodes of some tasks answered about their CPU and memory, and which nodes did not. */
export interface ClusterTaskStats {
  tasks: import('../../lib/index.js').ServiceTaskStats[];
  unreachable: { nodeId: string; message: string }[];
}

/** Where tasks' CPU and memory come from (every node's agent, manager/cluster-stats.ts). */
export type TaskStatsSource = (
  tasks: readonly import('../../lib/index.js').Task[],
) => Promise<ClusterTaskStats>;

/** What every route handler works with. */
export interface ApiContext {
  store: Store;
  replicator: Replicator;
  log: Logger;
  info: ApiInfo;
  events: EventLog;
  clock: () => Date;
  logs?: LogSource;
  stats?: TaskStatsSource;
  /** Raft membership changes (leader only), for demoting and removing managers. */
  raft?: RaftMembership;
  /** On a follower, reads of other nodes' task logs go to the leader with this identity. */
  forward?: import('./forward.js').ForwardOptions;
  /** Takes this node out of its cluster (`/swarm/leave`); the daemon provides it. */
  leave?: (opts: { force: boolean }) => Promise<void>;
  /** The node's local-scope networks; without it `/networks` is the cluster's alone. */
  localNetworks?: LocalNetworkPort;
}

/**
 * The node's own networks for standalone containers (`bridge`, `none` and user bridge
 * networks, dockerd's local scope), served by its agent beside the cluster's overlays.
 */
export interface LocalNetworkPort {
  list(): Promise<EngineLocalNetwork[]>;
  /** By ID, name or unique ID prefix; undefined when the node has none such. */
  find(ref: string): Promise<EngineLocalNetwork | undefined>;
  create(body: unknown): Promise<{ Id: string; Warning: string }>;
  remove(ref: string): Promise<void>;
  connect(network: string, container: string, aliases: string[]): Promise<void>;
  disconnect(network: string, container: string): Promise<void>;
  /** Removes the unused user networks `keep` does not hold; their names. */
  prune(keep: (n: EngineLocalNetwork) => boolean): Promise<string[]>;
}

/** The API version skiff speaks (its object shapes follow this one) and the oldest it accepts. */
export const API_VERSION = '1.44';
export const MIN_API_VERSION = '1.24';
