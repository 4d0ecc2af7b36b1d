// What each node must know about the networks its tasks use: the network itself, the
// other nodes to tunnel to (VXLAN peers) and the names of every node's running tasks on
// it (DNS). Pure: computed from a snapshot of the store, so it is tested without I/O.
import type { AssignedNetwork, SwarmNetwork, Task } from '../../lib/index.js';
import { taskDnsNames, taskStateRank, VXLAN_ID_OPTION } from '../../lib/index.js';

/** The option key Docker uses for an overlay network's VXLAN ID. */

export interface NetworkState {
  tasks: readonly Task[];
  /** Nodes by ID: the underlay address agents registered with, and whether it is down. */
  nodes: ReadonlyMap<string, { addr: string; down: boolean }>;
  networks: ReadonlyMap<string, SwarmNetwork>;
}

interface NetworkEntry {
  base: AssignedNetwork;
  /** Nodes (not down) with a task that holds or may soon hold an endpoint on the network. */
  nodes: Set<string>;
  /** name → addresses of running tasks (deduplicated when the record list is built). */
  records: Map<string, string[]>;
  /** The records as sent, built once and shared by every node's view. */
  recordList?: { name: string; ips: string[] }[];
}

/** One pass over the store's tasks; each node's views are then read from it cheaply. */
export interface NetworkIndex {
  networks: Map<string, NetworkEntry>;
  /** node → networks of its tasks that are not finished. */
  byNode: Map<string, Set<string>>;
  nodes: NetworkState['nodes'];
}

const ASSIGNED = taskStateRank('assigned');
const RUNNING = taskStateRank('running');

export function indexNetworks(state: NetworkState): NetworkIndex {
  const networks = new Map<string, NetworkEntry>();
  const byNode = new Map<string, Set<string>>();
  const entry = (id: string): NetworkEntry | undefined => {
    const known = networks.get(id);
    if (known) return known;
    const n = state.networks.get(id);
    const base = n && assignedNetwork(n);
    if (!base) return undefined;
    const created = { base, nodes: new Set<string>(), records: new Map<string, string[]>() };
    networks.set(id, created);
    return created;
  };
  for (const t of state.tasks) {
    const nodeId = t.NodeID;
    const rank = taskStateRank(t.Status.State ?? 'new');
    // From assigned until it finishes, the task's container may be on the network.
    if (!nodeId || rank < ASSIGNED || rank > RUNNING) continue;
    const node = state.nodes.get(nodeId);
    const alive = node !== undefined && !node.down;
    const serving = alive && t.Status.State === 'running' && t.DesiredState === 'running';
    for (const a of t.NetworksAttachments ?? []) {
      const e = entry(a.Network.Id);
      if (!e) continue;
      addTo(byNode, nodeId, a.Network.Id);
      if (alive) e.nodes.add(nodeId);
      const ip = a.Addresses[0]?.split('/')[0];
      if (!serving || !ip) continue;
      for (const name of taskDnsNames(t, { id: a.Network.Id, name: a.Network.Name })) {
        const key = name.toLowerCase();
        const ips = e.records.get(key);
        if (ips) ips.push(ip);
        else e.records.set(key, [ip]);
      }
    }
  }
  return { networks, byNode, nodes: state.nodes };
}

/** The networks of a node's unfinished tasks, with peers and records; sorted, so equal views compare equal. */
export function networksOfNode(index: NetworkIndex, nodeId: string): AssignedNetwork[] {
  const out: AssignedNetwork[] = [];
  for (const id of [...(index.byNode.get(nodeId) ?? [])].sort()) {
    const e = index.networks.get(id);
    if (!e) continue;
    const peers =
      e.base.driver === 'overlay'
        ? [...e.nodes]
            .filter((n) => n !== nodeId)
            .sort()
            .flatMap((n) => {
              const addr = index.nodes.get(n)?.addr;
              return addr ? [{ nodeId: n, addr }] : [];
            })
        : [];
    e.recordList ??= [...e.records]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, ips]) => ({ name, ips: [...new Set(ips)].sort() }));
    out.push({ ...e.base, peers, records: e.recordList });
  }
  return out;
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (set) set.add(value);
  else map.set(key, new Set([value]));
}

const recordsJson = new WeakMap<object, string>();

/**
 * A view's serialized form, for telling whether it changed. Records are shared by all
 * nodes of a network (networksOfNode), so they are serialized once, not once per node.
 */
export function viewKey(view: AssignedNetwork): string {
  const records = view.records ?? [];
  let json = recordsJson.get(records);
  if (json === undefined) {
    json = JSON.stringify(records);
    recordsJson.set(records, json);
  }
  return `${JSON.stringify({ ...view, records: undefined })}${json}`;
}

/** The network as an agent sets it up; undefined until the allocator gave it a subnet. */
function assignedNetwork(n: SwarmNetwork): AssignedNetwork | undefined {
  const ipam = n.IPAMOptions?.Configs?.[0];
  if (!ipam?.Subnet || !ipam.Gateway) return undefined;
  const vxlan = Number(n.DriverState?.Options?.[VXLAN_ID_OPTION]);
  return {
    id: n.ID,
    name: n.Spec.Name,
    // The API creates overlays only; 'bridge' is the one other driver a node sets up.
    driver: n.Spec.DriverConfiguration?.Name === 'bridge' ? 'bridge' : 'overlay',
    subnet: ipam.Subnet,
    gateway: ipam.Gateway,
    ...(Number.isInteger(vxlan) && vxlan > 0 ? { vxlanId: vxlan } : {}),
    internal: n.Spec.Internal ?? false,
  };
}
