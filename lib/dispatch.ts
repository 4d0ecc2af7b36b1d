// The protocol between agents and the manager's dispatcher. The same messages travel
// in-process (single-node mode) and over gRPC between hosts.
import type { NodeDescription, Task, TaskStatus } from './model/index.js';
import type { NetworkDefinition } from './network-attachment.js';

export interface RegisterRequest {
  /** The node ID from the node's certificate, or a stable ID the node chose. */
  nodeId: string;
  description: NodeDescription;
  /** Address other nodes reach this one at (underlay for overlay networks). */
  addr: string;
}

export interface RegisterResponse {
  nodeId: string;
  /** Session ID; a heartbeat or status update from an older session is refused. */
  sessionId: string;
  heartbeatPeriodMs: number;
}

export interface HeartbeatRequest {
  nodeId: string;
  sessionId: string;
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
  /**
   * The routing mesh when it changed (always on `complete`); null: the node runs none
   * (no ingress network or no address on it yet). Absent: unchanged.
   */
  mesh?: RoutingMeshView | null;
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
}
