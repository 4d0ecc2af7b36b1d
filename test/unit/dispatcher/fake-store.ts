// FAKE dispatcher store for the dispatcher's unit tests.
import type {
  NetworkKeys,
  NodeDescription,
  SwarmNetwork,
  Task,
  TaskStatusReport,
} from '../../../lib/index.js';
import { taskStateRank } from '../../../lib/index.js';
import type { DispatcherStorePort, TaskChange } from '../../../manager/dispatcher/index.js';

/** FAKE store: an in-memory task table with change notifications. */
export class FakeStore implements DispatcherStorePort {
  tasks = new Map<string, Task>();
  nodes = new Map<string, { state: string; addr: string }>();
  networks = new Map<string, SwarmNetwork>();
  keys: NetworkKeys | undefined;
  private listeners = new Set<(c: TaskChange) => void>();
  private nodeListeners = new Set<() => void>();

  tasksForNode(nodeId: string): Task[] {
    return [...this.tasks.values()].filter(
      (t) => t.NodeID === nodeId && taskStateRank(t.Status.State ?? 'new') >= taskStateRank('assigned'),
    );
  }
  secretsFor() {
    return [];
  }
  configsFor() {
    return [];
  }
  networkState() {
    const nodes = new Map(
      [...this.nodes].map(([id, n]) => [id, { addr: n.addr, down: n.state !== 'ready' }]),
    );
    return { tasks: [...this.tasks.values()], nodes, networks: this.networks };
  }
  networkKeys() {
    return this.keys;
  }
  /** Turns the key ring, as the leader's rotation does. */
  setKeys(keys: NetworkKeys) {
    this.keys = keys;
    for (const l of this.nodeListeners) l();
  }
  watchTasks(l: (c: TaskChange) => void) {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  watchNodesAndNetworks(l: () => void) {
    this.nodeListeners.add(l);
    return () => this.nodeListeners.delete(l);
  }
  /** Every node registering here joined (the fake has no join to create them). */
  /** The peer endpoint each node's last registration recorded (absent: none). */
  peerAddrs = new Map<string, string | undefined>();
  async markNodeReady(nodeId: string, _d: NodeDescription, addr: string, peerAddr?: string) {
    this.nodes.set(nodeId, { state: 'ready', addr });
    this.peerAddrs.set(nodeId, peerAddr);
    for (const l of this.nodeListeners) l();
    return true;
  }
  hasNode(nodeId: string) {
    return this.nodes.has(nodeId);
  }
  async setNodeState(nodeId: string, state: 'ready' | 'down') {
    const n = this.nodes.get(nodeId);
    if (n) n.state = state;
    for (const l of this.nodeListeners) l();
  }
  async applyTaskStatuses(updates: TaskStatusReport[]) {
    for (const u of updates) {
      const t = this.tasks.get(u.taskId);
      if (!t || !u.status.State) continue;
      if (taskStateRank(u.status.State) <= taskStateRank(t.Status.State ?? 'new')) continue;
      this.put({ ...t, Status: u.status });
    }
  }
  put(t: Task, kind: TaskChange['kind'] = 'update') {
    this.tasks.set(t.ID, t);
    for (const l of this.listeners) l({ kind, task: t });
  }
}
