// The protocol between agents and the manager's dispatcher. The same messages travel
// in-process (single-node mode) and over gRPC between hosts.

import { SkiffError } from './errors.js';
import type { NodeDescription, Task, TaskStatus } from './model/index.js';
import type { NetworkDefinition } from './network-attachment.js';

/**
 * The protocol version this skiff speaks, and the newest it reads. A registration and
 * its answer carry it; one without (from before the field existed) is version 1. Each
 * side refuses a newer version with both named rather than misread its messages.
 */
export const DISPATCH_PROTOCOL = 1;

/** Why `theirs` (undefined: version 1) is refused by this side (`me`), or undefined when it is read. */
export function dispatchProtocolRefusal(
  theirs: unknown,
  peer: 'agent' | 'dispatcher',
): SkiffError | undefined {
  const v = theirs ?? 1;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 && v <= DISPATCH_PROTOCOL) return undefined;
  const me = peer === 'agent' ? 'this manager' : 'this agent';
  return new SkiffError(
    'unsupported',
    `the ${peer} speaks dispatcher protocol ${String(v)}; ${me} speaks versions 1 to ${DISPATCH_PROTOCOL}`,
    {
      hint:
        peer === 'agent'
          ? 'upgrade the managers before the workers'
          : 'upgrade this node to the version the managers run',
    },
  );
}

export interface RegisterRequest {
  /** The node ID from the node's certificate, or a stable ID the node chose. */
  nodeId: string;
  description: NodeDescription;
  /** Address other nodes reach this one at (underlay for overlay networks). */
  addr: string;
  /** The agent's DISPATCH_PROTOCOL; absent: 1. */
  protocol?: number;
  /**
   * Optional parts of the protocol the agent serves (AGENT_FEATURES), so a manager never
   * waits on an agent that would ignore them; absent: none.
   */
  features?: string[];
  /** What the node can serve other nodes' image fetches from (absent: nothing). */
  images?: HeldImages;
}

/**
 * The images a node holds, for other nodes to fetch from it instead of a registry: the
 * address of its peer blob endpoint (mTLS with node certificates) and the digests of the
 * manifests (and indexes) it holds, newest first, at most MAX_HELD_IMAGES.
 */
export interface HeldImages {
  addr: string;
  digests: string[];
}

/** How many image digests a node reports (a registration or heartbeat stays small). */
export const MAX_HELD_IMAGES = 256;

/** A node asks which other nodes hold the image with this manifest (or index) digest. */
export interface ImageSourcesRequest {
  nodeId: string;
  sessionId: string;
  digest: string;
}

export interface ImageSource {
  nodeId: string;
  /** host:port of its peer blob endpoint. */
  addr: string;
}

/** Optional parts of the dispatcher protocol; an agent names those it serves when it registers. */
export const AGENT_FEATURES = {
  /** Publishes task logs for log subscriptions (publishLogs). */
  logs: 'logs',
  /** Answers stats requests with its tasks' CPU and memory (publishStats). */
  stats: 'stats',
} as const;

export interface RegisterResponse {
  nodeId: string;
  /** Session ID; a heartbeat or status update from an older session is refused. */
  sessionId: string;
  heartbeatPeriodMs: number;
  /** The dispatcher's DISPATCH_PROTOCOL; absent: 1. */
  protocol?: number;
}

export interface HeartbeatRequest {
  nodeId: string;
  sessionId: string;
  /** The images the node holds now (absent: unchanged since it last said). */
  images?: HeldImages;
}

export interface AssignedSecret {
  id: string;
  name: string;
  /** Base64 data, sent only to nodes running a task that references it. */
  data: string;
}

/** A network of the node's tasks as the node sets it up, with what the node cannot know alone. */
export interface AssignedNetwork extends Omit<NetworkDefinition, 'labels'> {
  /** Other nodes with tasks on this overlay network: the VXLAN peers. */
  peers?: { nodeId: string; addr: string }[];
  /** Names of the running tasks on this network, on every node, and their addresses (DNS). */
  records?: { name: string; ips: string[] }[];
  /**
   * The service VIPs on this network and, for each, the addresses of the service's tasks
   * that take new connections (running, healthy, not stopping, on a live node): the
   * node balances connections to the VIP over them.
   */
  vips?: ServiceVip[];
}

export interface ServiceVip {
  vip: string;
  backends: string[];
}

/**
 * The routing mesh as one node runs it (docs/networking.md): every port published in
 * ingress mode, answered on the node's own addresses and forwarded over the ingress
 * overlay, from the node's own address on it, to the service's serving tasks.
 */
export interface RoutingMeshView {
  /** The ingress network (set up on every node, its VXLAN peers being every live node). */
  networkId: string;
  /** This node's address on the ingress network: the source of forwarded connections. */
  address: string;
  ports: MeshPort[];
}

export interface MeshPort {
  protocol: 'tcp' | 'udp';
  publishedPort: number;
  targetPort: number;
  /**
   * The service keeps the client's address (INGRESS_CLIENT_ADDRESS_LABEL): a node with a
   * serving task of its own delivers to those alone, without rewriting the source.
   */
  keepClientAddress: boolean;
  /** The serving tasks' addresses on the ingress network and the nodes they run on. */
  backends: { ip: string; nodeId: string }[];
}

/** The first message of a session is `complete`; later ones are `incremental`. */
export interface AssignmentsMessage {
  type: 'complete' | 'incremental';
  tasks: Task[];
  removedTasks: string[];
  secrets: AssignedSecret[];
  configs: AssignedSecret[];
  /** Networks added or changed (on `complete`: all of the node's networks). */
  networks: AssignedNetwork[];
  /** Networks the node has no tasks on any more (incremental messages only). */
  removedNetworks?: string[];
  /** Log requests for tasks this node runs: the node publishes their lines (publishLogs). */
  logSubscriptions?: LogSubscription[];
  /** Log requests whose reader went away: the node stops publishing them. */
  closedLogSubscriptions?: string[];
  /** Requests for the CPU and memory of tasks this node runs: the node answers each (publishStats). */
  statsRequests?: StatsRequest[];
  /**
   * The routing mesh when it changed (always on `complete`); null: the node runs none
   * (no ingress network or no address on it yet). Absent: unchanged.
   */
  mesh?: RoutingMeshView | null;
  /**
   * The keys of encrypted overlays, sent only to a node with a task on one, when they
   * changed (always on `complete`); null: the node needs none any more. Absent: unchanged.
   */
  networkKeys?: NetworkKeys | null;
}

/**
 * The cluster's keys for encrypted overlays (IPsec ESP between nodes), generated and
 * rotated by the leader as Swarm's key manager does: three keys, every node receiving for
 * all of them and sending with the primary, which is the middle one — distributed one
 * rotation before it is used, so every peer can already read it when a node switches.
 */
export interface NetworkKeys {
  /** Oldest first; `tag` grows with each new key (a Lamport clock, as Swarm's). */
  keys: { tag: number; key: string }[];
  /** The tag of the key nodes send with. */
  primary: number;
}

/**
 * A manager asks a node for its tasks' log lines, as swarmkit's log broker does: the
 * request travels down the node's assignment stream, the lines come back in
 * publishLogs calls, so a manager reads the logs of tasks on every node.
 */
export interface LogSubscription {
  id: string;
  taskIds: string[];
  follow: boolean;
  tail?: number;
  /** Lines at or after this time (ms since the epoch). */
  sinceMs?: number;
}

export interface PublishedLogLine {
  taskId: string;
  stream: 'stdout' | 'stderr';
  /** ms since the epoch. */
  timeMs: number;
  line: string;
}

export interface PublishLogsRequest {
  nodeId: string;
  sessionId: string;
  subscriptionId: string;
  lines: PublishedLogLine[];
  /** The node has sent every line of the request (not following, or the tasks ended). */
  done?: boolean;
}

/**
 * A manager asks a node for its tasks' resource usage, read from their cgroups now; the
 * request travels down the assignment stream as log subscriptions do, the answer comes
 * back in one publishStats call.
 */
export interface StatsRequest {
  id: string;
  taskIds: string[];
}

/** A running task's usage as its node read it (a task with no running container is left out). */
export interface TaskStatsSample {
  taskId: string;
  /** CPU time of the container's processes (cgroup v1 cpuacct.usage), in nanoseconds. */
  cpuNanos?: number;
  /** The container's cgroup memory, page cache included (memory.usage_in_bytes). */
  memoryBytes?: number;
  memoryLimitBytes?: number;
}

export interface PublishStatsRequest {
  nodeId: string;
  sessionId: string;
  requestId: string;
  /** When the node read them, ms since the epoch. */
  timeMs: number;
  stats: TaskStatsSample[];
}

export interface TaskStatusReport {
  taskId: string;
  status: TaskStatus;
}

export interface UpdateTaskStatusRequest {
  nodeId: string;
  sessionId: string;
  updates: TaskStatusReport[];
}

/** What an agent needs from a dispatcher, whichever transport carries it. */
export interface DispatcherApi {
  register(req: RegisterRequest): Promise<RegisterResponse>;
  heartbeat(req: HeartbeatRequest): Promise<{ heartbeatPeriodMs: number }>;
  /** Assignments for the session; ends when the session does. */
  assignments(req: HeartbeatRequest, signal: AbortSignal): AsyncIterable<AssignmentsMessage>;
  updateTaskStatus(req: UpdateTaskStatusRequest): Promise<void>;
  /**
   * Lines of a log subscription. Answers when the manager has taken them (its reader's
   * pace); fails with not_found once nobody reads the subscription any more.
   */
  publishLogs(req: PublishLogsRequest): Promise<void>;
  /** The answer to a stats request; fails with not_found once nobody waits for it. */
  publishStats(req: PublishStatsRequest): Promise<void>;
  /**
   * The other live nodes that reported holding the image `digest` names (registry-less
   * distribution). An older manager answers `unimplemented`: the agent pulls from the registry.
   */
  imageSources(req: ImageSourcesRequest): Promise<{ sources: ImageSource[] }>;
}
