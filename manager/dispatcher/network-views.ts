// What each node must know about the networks its tasks use: the network itself, the
// other nodes to tunnel to (VXLAN peers) and the names of every node's running tasks on
// it (DNS), and each service VIP on it with the tasks that take its new connections;
// and the routing mesh: every port published in ingress mode with the serving tasks
// behind it, which every node answers (the ingress network then has every live node as
// a VXLAN peer, on every node). Pure: computed from a snapshot of the store, so it is tested without I/O.
import type {
  AssignedNetwork,
  MeshPort,
  RoutingMeshView,
  ServiceVip,
  SwarmNetwork,
  Task,
} from '../../lib/index.js';
import {
  ingressNodeAddresses,
  isEncryptedNetwork,
  serviceDnsNames,
  taskDnsNames,
  taskServiceVip,
  taskStateRank,
  VXLAN_ID_OPTION,
} from '../../lib/index.js';

/** The option key Docker uses for an overlay network's VXLAN ID. */

export interface NetworkState {
  tasks: readonly Task[];
  /** Nodes by ID: the underlay address agents registered with, and whether it is down. */
  nodes: ReadonlyMap<string, { addr: string; down: boolean }>;
  networks: ReadonlyMap<string, SwarmNetwork>;
  /** Services whose published ports keep the client's address (INGRESS_CLIENT_ADDRESS_LABEL). */
  keepClientAddress?: ReadonlySet<string>;
}

interface NetworkEntry {
  base: AssignedNetwork;
  /** Nodes (not down) with a task that holds or may soon hold an endpoint on the network. */
  nodes: Set<string>;
  /** name → addresses of running tasks (deduplicated when the record list is built). */
  records: Map<string, string[]>;
  /** VIP → addresses of the tasks taking new connections (running, desired running, live node). */
  vips: Map<string, string[]>;
  /** The records as sent, built once and shared by every node's view. */
  recordList?: { name: string; ips: string[] }[];
  vipList?: ServiceVip[];
}

/** One pass over the store's tasks; each node's views are then read from it cheaply. */
export interface NetworkIndex {
  networks: Map<string, NetworkEntry>;
  /** node → networks of its tasks that are not finished. */
  byNode: Map<string, Set<string>>;
  nodes: NetworkState['nodes'];
  /** The routing mesh, when the ingress network is allocated and some port is published in ingress mode. */
  mesh?: { networkId: string; addresses: Map<string, string>; ports: MeshPort[] };
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
    const created = {
      base,
      nodes: new Set<string>(),
      records: new Map<string, string[]>(),
      vips: new Map<string, string[]>(),
    };
    networks.set(id, created);
    return created;
  };
  const ingress = [...state.networks.values()].find((n) => n.Spec.Ingress === true);
  const meshPorts = new Map<string, MeshPort>();
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
      const network = { id: a.Network.Id, name: a.Network.Name };
      // The VIP answers for the service from its first task on: a client that resolves it
      // while no task serves yet is refused at once rather than sent nowhere.
      const vip = taskServiceVip(t, a.Network.Id);
      if (vip) {
        const backends = e.vips.get(vip) ?? [];
        e.vips.set(vip, backends);
        for (const name of serviceDnsNames(t, network)) addRecord(e.records, name, vip);
        if (serving && ip) backends.push(ip);
      }
      if (a.Network.Id === ingress?.ID) {
        addMeshPorts(meshPorts, t, state.keepClientAddress, serving && ip ? { ip, nodeId } : undefined);
      }
      if (!serving || !ip) continue;
      for (const name of taskDnsNames(t, network)) addRecord(e.records, name, ip);
    }
  }
  const index: NetworkIndex = { networks, byNode, nodes: state.nodes };
  const ingressEntry = ingress && meshPorts.size > 0 ? entry(ingress.ID) : undefined;
  if (ingress && ingressEntry) {
    const addresses = ingressNodeAddresses(ingress.IPAMOptions?.Configs?.[0]?.AuxiliaryAddresses);
    // Every live node with an address answers the mesh's ports: all are on the overlay.
    for (const [nodeId, n] of state.nodes)
      if (!n.down && addresses.has(nodeId)) ingressEntry.nodes.add(nodeId);
    const ports = [...meshPorts.values()].sort((a, b) =>
      a.protocol === b.protocol ? a.publishedPort - b.publishedPort : a.protocol < b.protocol ? -1 : 1,
    );
    for (const p of ports) p.backends.sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
    index.mesh = { networkId: ingress.ID, addresses, ports };
  }
  return index;
}

/** Records the task's ingress-mode published ports, and the task behind them when it serves. */
function addMeshPorts(
  ports: Map<string, MeshPort>,
  t: Task,
  keep: ReadonlySet<string> | undefined,
  backend: { ip: string; nodeId: string } | undefined,
): void {
  for (const p of t.Endpoint?.Ports ?? []) {
    const protocol = p.Protocol ?? 'tcp';
    if ((p.PublishMode ?? 'ingress') !== 'ingress' || !p.PublishedPort || !p.TargetPort) continue;
    if (protocol !== 'tcp' && protocol !== 'udp') continue;
    const key = `${protocol}/${p.PublishedPort}`;
    let port = ports.get(key);
    if (!port) {
      port = {
        protocol,
        publishedPort: p.PublishedPort,
        targetPort: p.TargetPort,
        keepClientAddress: keep?.has(t.ServiceID) ?? false,
        backends: [],
      };
      ports.set(key, port);
    }
    // An update may change the target port: the serving tasks of the newest spec win.
    if (backend && port.targetPort === p.TargetPort) port.backends.push(backend);
  }
}

/** The routing mesh as the node runs it; null when it runs none (no ported service, no address yet). */
export function meshOfNode(index: NetworkIndex, nodeId: string): RoutingMeshView | null {
  const mesh = index.mesh;
  const address = mesh?.addresses.get(nodeId);
  if (!mesh || !address) return null;
  return { networkId: mesh.networkId, address, ports: mesh.ports };
}

/** Every node is on the ingress network while the mesh runs, whether or not its tasks are. */
function networkIdsOfNode(index: NetworkIndex, nodeId: string): string[] {
  const ids = new Set(index.byNode.get(nodeId) ?? []);
  if (index.mesh?.addresses.has(nodeId)) ids.add(index.mesh.networkId);
  return [...ids].sort();
}

/** The networks of a node's unfinished tasks, with peers and records; sorted, so equal views compare equal. */
export function networksOfNode(index: NetworkIndex, nodeId: string): AssignedNetwork[] {
  const out: AssignedNetwork[] = [];
  for (const id of networkIdsOfNode(index, nodeId)) {
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
    e.vipList ??= [...e.vips]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([vip, backends]) => ({ vip, backends: [...new Set(backends)].sort() }));
    out.push({ ...e.base, peers, records: e.recordList, ...(e.vipList.length ? { vips: e.vipList } : {}) });
  }
  return out;
}

function addRecord(records: Map<string, string[]>, name: string, ip: string): void {
  const key = name.toLowerCase();
  const ips = records.get(key);
  if (ips) ips.push(ip);
  else records.set(key, [ip]);
}

function addTo<K, V>(map: Map<K, Set<V>>, key: K, value: V): void {
  const set = map.get(key);
  if (set) set.add(value);
  else map.set(key, new Set([value]));
}

const sharedJson = new WeakMap<object, string>();

/**
 * A view's serialized form, for telling whether it changed. Records and VIPs are shared
 * by all nodes of a network (networksOfNode), so they are serialized once, not once per node.
 */
export function viewKey(view: AssignedNetwork): string {
  return `${JSON.stringify({ ...view, records: undefined, vips: undefined })}${shared(view.records ?? [])}${shared(view.vips ?? [])}`;
}

function shared(value: object): string {
  let json = sharedJson.get(value);
  if (json === undefined) {
    json = JSON.stringify(value);
    sharedJson.set(value, json);
  }
  return json;
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
    ...(isEncryptedNetwork(n.Spec.DriverConfiguration?.Options) ? { encrypted: true } : {}),
  };
}
