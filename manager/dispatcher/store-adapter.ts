// Binds the dispatcher's narrow store port to the manager's replicated store.
import type {
  AssignedNetwork,
  AssignedSecret,
  NodeDescription,
  Task,
  TaskStatusReport,
} from '../../lib/index.js';
import { taskStateRank } from '../../lib/index.js';
import type { Store } from '../store/index.js';
import type { DispatcherStorePort, TaskChange } from './store-port.js';

/** The option key Docker uses for an overlay network's VXLAN ID. */
export const VXLAN_OPTION = 'com.docker.network.driver.overlay.vxlanid_list';

export function storeDispatcherPort(store: Store): DispatcherStorePort {
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

    networksFor(tasks, nodeId) {
      const ids = new Set<string>();
      for (const t of tasks) for (const a of t.NetworksAttachments ?? []) ids.add(a.Network.Id);
      const out: AssignedNetwork[] = [];
      for (const id of ids) {
        const n = store.getNetwork(id);
        const ipam = n?.IPAMOptions?.Configs?.[0];
        if (!n || !ipam?.Subnet || !ipam.Gateway) continue;
        const vxlan = Number(n.DriverState?.Options?.[VXLAN_OPTION]);
        const driver = n.Spec.DriverConfiguration?.Name ?? 'overlay';
        out.push({
          id: n.ID,
          name: n.Spec.Name,
          driver,
          subnet: ipam.Subnet,
          gateway: ipam.Gateway,
          ...(Number.isFinite(vxlan) ? { vxlanId: vxlan } : {}),
          internal: n.Spec.Internal ?? false,
          peers: driver === 'overlay' ? overlayPeers(store, n.ID, nodeId) : [],
        });
      }
      return out;
    },

    watchTasks(listener: (c: TaskChange) => void) {
      return store.subscribe(
        (e) => {
          if (e.table === 'tasks') listener({ kind: e.kind, task: e.object as Task });
        },
        { tables: ['tasks'] },
      );
    },

    async upsertNode(nodeId: string, description: NodeDescription, addr: string) {
      await store.update((tx) => {
        const n = tx.get('nodes', nodeId);
        const Status = { State: 'ready' as const, Addr: addr };
        if (n) tx.update('nodes', { ...n, Description: { ...n.Description, ...description }, Status });
        else {
          tx.create('nodes', {
            ID: nodeId,
            Spec: { Role: 'worker', Availability: 'active' },
            Description: description,
            Status,
          });
        }
      });
    },

    async setNodeState(nodeId, state, message) {
      await store.update((tx) => {
        const n = tx.get('nodes', nodeId);
        if (n) tx.update('nodes', { ...n, Status: { ...n.Status, State: state, Message: message } });
      });
    },

    async applyTaskStatuses(updates: TaskStatusReport[]) {
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
    },
  };
}

/** Addresses of the other nodes with a task on the network. */
function overlayPeers(store: Store, networkId: string, self: string): { nodeId: string; addr: string }[] {
  const nodes = new Set<string>();
  for (const t of store.listTasks()) {
    if (!t.NodeID || t.NodeID === self || t.DesiredState !== 'running') continue;
    if (t.NetworksAttachments?.some((a) => a.Network.Id === networkId)) nodes.add(t.NodeID);
  }
  const out: { nodeId: string; addr: string }[] = [];
  for (const id of nodes) {
    const addr = store.getNode(id)?.Status.Addr;
    if (addr) out.push({ nodeId: id, addr });
  }
  return out;
}

function b64(data: Uint8Array): string {
  return Buffer.from(data).toString('base64');
}
