// What the dispatcher needs from the replicated store. Kept narrow so the dispatcher
// can be tested over an in-memory fake and bound to manager/store by an adapter.
import type {
  AssignedSecret,
  NetworkKeys,
  NodeDescription,
  Task,
  TaskStatusReport,
} from '../../lib/index.js';
import type { NetworkState } from './network-views.js';

export type TaskChange = { kind: 'create' | 'update' | 'delete'; task: Task };

export interface DispatcherStorePort {
  /** Tasks the node should know about: assigned to it and not yet removed. */
  tasksForNode(nodeId: string): Task[];
  secretsFor(tasks: Task[]): AssignedSecret[];
  configsFor(tasks: Task[]): AssignedSecret[];
  /** What network views are computed from: all tasks, nodes and networks, read at once. */
  networkState(): NetworkState;
  /** The encrypted overlays' keys (opened), or undefined when none was ever made. */
  networkKeys(): NetworkKeys | undefined;
  /** Subscribes to task changes after they are applied, in order. */
  watchTasks(listener: (change: TaskChange) => void): () => void;
  /** Subscribes to changes of nodes, networks, services and the cluster (peers' addresses, liveness, subnets, mesh policy, network keys). */
  watchNodesAndNetworks(listener: () => void): () => void;
  /**
   * Refreshes the node object (description, address) and marks it ready. Never creates
   * one: joining (or cluster init) does. Resolves false when the store has no such node.
   */
  markNodeReady(
    nodeId: string,
    description: NodeDescription,
    addr: string,
    /** host:port of its peer endpoint (images, managers' exec); absent: it serves none. */
    peerAddr?: string,
  ): Promise<boolean>;
  /** Whether the node object still exists (it is gone once removed from the cluster). */
  hasNode(nodeId: string): boolean;
  setNodeState(nodeId: string, state: 'ready' | 'down', message: string): Promise<void>;
  /** Applies agent-reported statuses in one write; backward moves are ignored. */
  applyTaskStatuses(updates: TaskStatusReport[]): Promise<void>;
}
