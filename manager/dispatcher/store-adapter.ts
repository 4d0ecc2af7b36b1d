// Binds the dispatcher's narrow store port to the manager's replicated store.
import type {
  AssignedSecret,
  NodeDescription,
  NodeStatusWithPeer,
  Task,
  TaskStatusReport,
} from '../../lib/index.js';
import {
  INGRESS_CLIENT_ADDRESS_KEEP,
  INGRESS_CLIENT_ADDRESS_LABEL,
  isSkiffError,
  NODE_PEER_ADDR_FIELD,
  taskStateRank,
} from '../../lib/index.js';
import { networkKeysView, openNetworkKeys, type Store } from '../store/index.js';
import type { DispatcherStorePort, TaskChange } from './store-port.js';

export function storeDispatcherPort(store: Store): DispatcherStorePort {
  const statuses = new StatusCommits(store);
  return {
    tasksForNode(nodeId) {
      return store
        .listTasks({ nodeId })
        .filter((t) => taskStateRank(t.Status.State ?? 'new') >= taskStateRank('assigned'));
    },

    secretsFor(tasks) {
      const out = new Map<string, AssignedSecret>();
      for (const t of tasks) {
        for (const ref of t.Spec.ContainerSpec?.Secrets ?? []) {
          const data = store.getSecretData(ref.SecretID);
          if (data) out.set(ref.SecretID, { id: ref.SecretID, name: ref.SecretName, data: b64(data) });
        }
      }
      return [...out.values()];
    },

    configsFor(tasks) {
      const out = new Map<string, AssignedSecret>();
      for (const t of tasks) {
        for (const ref of t.Spec.ContainerSpec?.Configs ?? []) {
          const c = store.getConfig(ref.ConfigID);
          if (c) out.set(c.ID, { id: c.ID, name: c.Spec.Name ?? ref.ConfigName, data: c.Spec.Data ?? '' });
        }
      }
      return [...out.values()];
    },

    networkState() {
      const nodes = new Map<string, { addr: string; down: boolean }>();
      for (const n of store.listNodes()) {
        nodes.set(n.ID, { addr: n.Status.Addr ?? '', down: n.Status.State !== 'ready' });
      }
      const keepClientAddress = new Set(
        store
          .listServices()
          .filter((s) => s.Spec.Labels?.[INGRESS_CLIENT_ADDRESS_LABEL] === INGRESS_CLIENT_ADDRESS_KEEP)
          .map((s) => s.ID),
      );
      return {
        tasks: store.listTasks(),
        nodes,
        networks: new Map(store.listNetworks().map((n) => [n.ID, n])),
        keepClientAddress,
      };
    },

    networkKeys() {
      const ring = openNetworkKeys(store, store.getCluster());
      return ring && networkKeysView(ring);
    },

    watchTasks(listener: (c: TaskChange) => void) {
      return store.subscribe(
        (e) => {
          if (e.table === 'tasks') listener({ kind: e.kind, task: e.object as Task });
        },
        { tables: ['tasks'] },
      );
    },

    watchNodesAndNetworks(listener: () => void) {
      // Services too: a label choosing the mesh's client-address policy.
      // The cluster too: the network key ring turning.
      return store.subscribe(() => listener(), { tables: ['nodes', 'networks', 'services', 'cluster'] });
    },

    async markNodeReady(nodeId: string, description: NodeDescription, addr: string, peerAddr?: string) {
      return store.update((tx) => {
        const n = tx.get('nodes', nodeId);
        if (!n) return false;
        const status: NodeStatusWithPeer = {
          State: 'ready',
          Addr: addr,
          ...(peerAddr ? { [NODE_PEER_ADDR_FIELD]: peerAddr } : {}),
        };
        tx.update('nodes', { ...n, Description: { ...n.Description, ...description }, Status: status });
        return true;
      });
    },

    hasNode(nodeId) {
      return store.getNode(nodeId) !== undefined;
    },

    async setNodeState(nodeId, state, message) {
      await store.update((tx) => {
        const n = tx.get('nodes', nodeId);
        if (n) tx.update('nodes', { ...n, Status: { ...n.Status, State: state, Message: message } });
      });
    },

    applyTaskStatuses(updates: TaskStatusReport[]) {
      return statuses.apply(updates);
    },
  };
}

/** Status reports in one proposal at most: about the size of the leader loops' batches. */
export const STATUS_BATCH = 1000;
/** Proposals of status reports committing at once: a few, so one raft round trip does not pace them all. */
const STATUS_IN_FLIGHT = 4;

/**
 * Nodes' status reports, committed together (group commit): while STATUS_IN_FLIGHT
 * proposals of them are committing, the reports that arrive wait and go in the next, up to
 * STATUS_BATCH each. With
 * 10,000 nodes each report of a task or two was a log entry of its own: 0.6 entries per
 * task placed, against 0.07 with 1,000 nodes, and a follower's CPU per task tripled.
 * Each caller learns the outcome of the proposal that carried its reports.
 */
class StatusCommits {
  private queue: { updates: TaskStatusReport[]; done: (e?: unknown) => void }[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(private readonly store: Store) {}

  apply(updates: TaskStatusReport[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ updates, done: (e) => (e === undefined ? resolve() : reject(e)) });
      // The reports of one event-loop turn (many nodes' calls) start out together.
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.next();
        });
      }
    });
  }

  /** Starts a proposal of what waits, unless STATUS_IN_FLIGHT are committing already. */
  private next(): void {
    if (this.inFlight >= STATUS_IN_FLIGHT || this.queue.length === 0) return;
    let n = 0;
    let size = 0;
    while (n < this.queue.length && (n === 0 || size + this.queue[n]!.updates.length <= STATUS_BATCH))
      size += this.queue[n++]!.updates.length;
    const batch = this.queue.splice(0, n);
    this.inFlight++;
    commitStatuses(
      this.store,
      batch.flatMap((b) => b.updates),
    )
      .then(
        () => {
          for (const b of batch) b.done();
        },
        (e: unknown) => {
          for (const b of batch) b.done(e ?? new Error('status commit failed'));
        },
      )
      .finally(() => {
        this.inFlight--;
        this.next();
      });
    this.next();
  }
}

/**
 * Reports race other writers of the same tasks (the leader loops, a batch still
 * committing): on a conflict they are applied again to the fresh state.
 */
async function commitStatuses(store: Store, updates: TaskStatusReport[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await store.update((tx) => {
        for (const u of updates) {
          const t = tx.get('tasks', u.taskId);
          const next = u.status.State;
          if (!t || !next) continue;
          // Tasks only move forward; a late or duplicate report changes nothing.
          if (taskStateRank(next) <= taskStateRank(t.Status.State ?? 'new')) continue;
          tx.update('tasks', { ...t, Status: u.status });
        }
      });
      return;
    } catch (e) {
      if (attempt >= 5 || !isSkiffError(e) || e.code !== 'conflict') throw e;
    }
  }
}

function b64(data: Uint8Array): string {
  return Buffer.from(data).toString('base64');
}
