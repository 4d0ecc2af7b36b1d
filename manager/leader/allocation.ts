// The leader's allocation loop: gives networks their subnet and VXLAN ID, services
// their VIPs and published ports, and new tasks their network addresses (new →
// pending). Addresses of tasks that ended go back to the pool. A task of a service that
// publishes ports but joins no network gets an attachment to the cluster's ingress
// network (re-created here when a service needs it and it is gone), without a VIP; every
// node gets an address of its own on the ingress network (recorded among its IPAM
// auxiliary addresses), the source of the routing mesh's forwarded connections. A service in vip
// endpoint mode gets a VIP on each of its own networks (docs/networking.md), given back
// when it leaves the network, turns dnsrr or is removed.
import type {
  Endpoint,
  Logger,
  NetworkAttachment,
  NetworkAttachmentConfig,
  PortConfig,
  Service,
  SwarmNetwork,
  Task,
} from '../../lib/index.js';
import {
  describeError,
  INGRESS_NETWORK_NAME,
  INGRESS_NODE_ADDRESS_PREFIX,
  ingressNodeAddresses,
  publishesThroughMesh,
  TERMINAL_TASK_STATES,
  usesIngressNetwork,
  VXLAN_ID_OPTION,
} from '../../lib/index.js';
import { Allocator } from '../allocator/index.js';
import type { Store, Transaction } from '../store/index.js';
import { ControlLoop, updateInBatches, updateWithRetry } from './loop.js';
import { networkView } from './network-view.js';

const DYNAMIC_PORTS = { first: 30000, last: 32767 };

export class AllocationLoop {
  private readonly allocator: Allocator;
  private readonly loop: ControlLoop;
  private readonly held = new Map<string, { networkId: string; addr: string }[]>();
  private readonly dirtyTasks = new Set<string>();
  private unsubscribe: (() => void) | undefined;
  private readonly log: Logger;

  constructor(
    private readonly store: Store,
    log: Logger,
    opts: { pools?: string[]; subnetSize?: number; reserved?: string[] } = {},
  ) {
    this.log = log.child({ component: 'allocator' });
    this.allocator = new Allocator(opts);
    this.loop = new ControlLoop('allocator', () => this.pass(), this.log);
  }

  start(): void {
    this.restore();
    this.unsubscribe = this.store.subscribe(
      (e) => {
        if (e.table === 'tasks') {
          // Only new tasks (to allocate) and ended or deleted ones (to release) are work here.
          const state = (e.object as Task).Status.State ?? 'new';
          if (e.kind !== 'delete' && state !== 'new' && !TERMINAL_TASK_STATES.has(state)) return;
          this.dirtyTasks.add(e.object.ID);
        }
        // A node joining or leaving changes the ingress network's node addresses; its state does not.
        if (e.table === 'nodes' && e.kind === 'update') return;
        this.loop.kick();
      },
      { tables: ['tasks', 'networks', 'services', 'nodes'] },
    );
    for (const t of this.store.listTasks()) this.dirtyTasks.add(t.ID);
    this.loop.kick();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.loop.stop();
  }

  settled(): Promise<void> {
    return this.loop.settled();
  }

  /** Re-learns every allocation recorded in the store (a new leader). */
  private restore(): void {
    for (const n of this.store.listNetworks()) {
      const cfg = n.IPAMOptions?.Configs?.[0];
      const vxlan = Number(n.DriverState?.Options?.[VXLAN_ID_OPTION]);
      if (cfg?.Subnet && cfg.Gateway && Number.isFinite(vxlan)) {
        this.allocator.restoreNetwork(n.ID, { subnet: cfg.Subnet, gateway: cfg.Gateway, vxlanId: vxlan });
      }
    }
    const ingress = this.store.listNetworks().find((n) => n.Spec.Ingress === true);
    for (const addr of ingressNodeAddresses(
      ingress?.IPAMOptions?.Configs?.[0]?.AuxiliaryAddresses,
    ).values()) {
      if (ingress) this.allocator.restoreAddress(ingress.ID, addr);
    }
    for (const s of this.store.listServices()) {
      for (const v of s.Endpoint?.VirtualIPs ?? []) this.allocator.restoreAddress(v.NetworkID, v.Addr);
      this.vipsHeld.set(s.ID, s.Endpoint?.VirtualIPs ?? []);
    }
    for (const t of this.store.listTasks()) {
      if (TERMINAL_TASK_STATES.has(t.Status.State ?? 'new')) continue;
      const addrs = attachmentsOf(t);
      for (const a of addrs) this.allocator.restoreAddress(a.networkId, a.addr);
      if (addrs.length) this.held.set(t.ID, addrs);
    }
  }

  private async pass(): Promise<void> {
    const dirty = [...this.dirtyTasks];
    this.dirtyTasks.clear();
    await updateWithRetry(this.store, (tx) => {
      this.allocateNetworks(tx);
      this.allocateServices(tx);
    });
    await updateInBatches(this.store, dirty, (tx, id) => this.allocateTask(tx, id));
    if (dirty.length > 0) this.log.debug({ tasks: dirty.length }, 'tasks allocated');
  }

  private allocateNetworks(tx: Transaction): void {
    this.ensureIngressNetwork(tx);
    for (const n of tx.list('networks')) {
      if (n.DriverState) continue;
      try {
        const a = this.allocator.allocateNetwork(n.ID, n.Spec.IPAMOptions?.Configs?.[0]);
        const driver = n.Spec.DriverConfiguration?.Name ?? 'overlay';
        tx.update('networks', {
          ...n,
          // The user's driver options (the MTU) travel with the network to the nodes, as in Swarm.
          DriverState: {
            Name: driver,
            Options: { ...n.Spec.DriverConfiguration?.Options, [VXLAN_ID_OPTION]: String(a.vxlanId) },
          },
          IPAMOptions: {
            Driver: n.Spec.IPAMOptions?.Driver ?? { Name: 'default' },
            Configs: [{ Subnet: a.subnet, Gateway: a.gateway }],
          },
        });
        this.log.info({ networkId: n.ID, subnet: a.subnet, vxlanId: a.vxlanId }, 'network allocated');
      } catch (e) {
        this.log.error({ networkId: n.ID, err: describeError(e) }, 'network allocation failed');
      }
    }
    for (const id of this.knownNetworks) {
      if (!tx.get('networks', id)) this.allocator.releaseNetwork(id);
    }
    this.knownNetworks = new Set(tx.list('networks').map((n) => n.ID));
    this.allocateNodeAddresses(tx);
  }

  /**
   * Gives every node an address on the ingress network (the routing mesh forwards from
   * it, and the tasks' replies come back to it over the overlay), and takes back those
   * of removed nodes.
   */
  private allocateNodeAddresses(tx: Transaction): void {
    const ingress = ingressNetworkOf(tx);
    const cfg = ingress?.IPAMOptions?.Configs?.[0];
    if (!ingress?.DriverState || !cfg) return;
    const have = ingressNodeAddresses(cfg.AuxiliaryAddresses);
    const nodes = new Set(tx.list('nodes').map((n) => n.ID));
    const aux = { ...cfg.AuxiliaryAddresses };
    let changed = false;
    for (const [nodeId, addr] of have) {
      if (nodes.has(nodeId)) continue;
      this.allocator.releaseAddress(ingress.ID, addr);
      delete aux[`${INGRESS_NODE_ADDRESS_PREFIX}${nodeId}`];
      changed = true;
    }
    for (const nodeId of nodes) {
      if (have.has(nodeId)) continue;
      try {
        const addr = this.allocator.allocateAddress(ingress.ID).split('/')[0] ?? '';
        aux[`${INGRESS_NODE_ADDRESS_PREFIX}${nodeId}`] = addr;
        changed = true;
      } catch (e) {
        this.log.error({ nodeId, err: describeError(e) }, 'no ingress address for the node');
      }
    }
    if (!changed) return;
    const configs = [{ ...cfg, AuxiliaryAddresses: aux }, ...(ingress.IPAMOptions?.Configs ?? []).slice(1)];
    tx.update('networks', {
      ...ingress,
      IPAMOptions: { ...ingress.IPAMOptions, Configs: configs },
    });
  }

  private knownNetworks = new Set<string>();

  /** Creates the ingress network when a service needs it and there is none (it was removed). */
  private ensureIngressNetwork(tx: Transaction): void {
    if (ingressNetworkOf(tx)) return;
    const needs = tx.list('services').find((s) => usesIngressNetwork(s.Spec) || publishesThroughMesh(s.Spec));
    if (!needs) return;
    // A user's own network of that name blocks it: the service's tasks say so (allocateTask).
    if (tx.list('networks').some((n) => n.Spec.Name === INGRESS_NETWORK_NAME)) return;
    const n = tx.create('networks', {
      Spec: {
        Name: INGRESS_NETWORK_NAME,
        Labels: {},
        DriverConfiguration: { Name: 'overlay' },
        Ingress: true,
        IPAMOptions: { Driver: { Name: 'default' } },
        Scope: 'swarm',
      },
    });
    this.log.info({ networkId: n.ID, serviceId: needs.ID }, 'ingress network created for a service');
  }

  private allocateServices(tx: Transaction): void {
    const used = new Set<string>();
    const services = tx.list('services');
    for (const s of services) for (const p of s.Endpoint?.Ports ?? []) used.add(portKey(p));
    for (const s of services) {
      const want = this.endpointFor(tx, s, used);
      if (JSON.stringify(want) !== JSON.stringify(s.Endpoint ?? {})) {
        // A VIP the service no longer has (network left, dnsrr now) goes back to the pool.
        for (const v of s.Endpoint?.VirtualIPs ?? []) {
          if (!want.VirtualIPs?.some((w) => w.NetworkID === v.NetworkID && w.Addr === v.Addr))
            this.allocator.releaseAddress(v.NetworkID, v.Addr);
        }
        tx.update('services', { ...s, Endpoint: want });
      }
      this.vipsHeld.set(s.ID, want.VirtualIPs ?? []);
    }
    // A removed service's VIPs go back too.
    const present = new Set(services.map((s) => s.ID));
    for (const [id, vips] of this.vipsHeld) {
      if (present.has(id)) continue;
      for (const v of vips) this.allocator.releaseAddress(v.NetworkID, v.Addr);
      this.vipsHeld.delete(id);
    }
  }

  private readonly vipsHeld = new Map<string, readonly { NetworkID: string; Addr: string }[]>();

  private endpointFor(tx: Transaction, s: Service, used: Set<string>): Endpoint {
    const spec = s.Spec.EndpointSpec ?? {};
    const ports: PortConfig[] = [];
    for (const p of spec.Ports ?? []) {
      const have = s.Endpoint?.Ports?.find(
        (x) =>
          x.TargetPort === p.TargetPort &&
          x.Protocol === (p.Protocol ?? 'tcp') &&
          (!p.PublishedPort || x.PublishedPort === p.PublishedPort),
      );
      let published = p.PublishedPort || have?.PublishedPort || 0;
      if (!published) {
        for (let port = DYNAMIC_PORTS.first; port <= DYNAMIC_PORTS.last; port++) {
          if (!used.has(`${p.Protocol ?? 'tcp'}/${port}`)) {
            published = port;
            break;
          }
        }
      }
      const cfg: PortConfig = {
        Protocol: p.Protocol ?? 'tcp',
        TargetPort: p.TargetPort,
        PublishedPort: published,
        PublishMode: p.PublishMode ?? 'ingress',
      };
      if (p.Name) cfg.Name = p.Name;
      used.add(portKey(cfg));
      ports.push(cfg);
    }
    const out: Endpoint = { Spec: spec };
    if (ports.length) out.Ports = ports;
    if ((spec.Mode ?? 'vip') === 'vip') {
      const vips = [];
      for (const target of networkTargets(s)) {
        const n = tx.get('networks', target) ?? tx.list('networks').find((x) => x.Spec.Name === target);
        if (!n?.DriverState) continue;
        const have = s.Endpoint?.VirtualIPs?.find((v) => v.NetworkID === n.ID);
        vips.push(have ?? { NetworkID: n.ID, Addr: this.allocator.allocateAddress(n.ID) });
      }
      if (vips.length) out.VirtualIPs = vips;
    }
    return out;
  }

  private allocateTask(tx: Transaction, id: string): void {
    const t = tx.get('tasks', id);
    if (!t || TERMINAL_TASK_STATES.has(t.Status.State ?? 'new')) {
      for (const a of this.held.get(id) ?? []) this.allocator.releaseAddress(a.networkId, a.addr);
      this.held.delete(id);
      return;
    }
    if (t.Status.State !== 'new') return;
    const service = tx.get('services', t.ServiceID);
    const attachments: NetworkAttachment[] = [];
    const held: { networkId: string; addr: string }[] = [];
    const targets = this.networksOfTask(tx, t, service);
    if (!targets) return;
    for (const target of targets) {
      const n =
        target.network ??
        tx.get('networks', target.Target) ??
        tx.list('networks').find((x) => x.Spec.Name === target.Target);
      if (!n?.DriverState) {
        // Not allocated yet (or missing): try again on the next pass that touches it.
        for (const h of held) this.allocator.releaseAddress(h.networkId, h.addr);
        if (!n) this.markStuck(tx, t, `network ${target.Target} not found`);
        else this.dirtyTasks.add(t.ID);
        return;
      }
      const addr = this.allocator.allocateAddress(n.ID);
      held.push({ networkId: n.ID, addr });
      attachments.push({ Network: networkView(n), Addresses: [addr] });
    }
    this.held.set(t.ID, held);
    tx.update('tasks', {
      ...t,
      NetworksAttachments: attachments,
      Endpoint: service?.Endpoint,
      Status: { ...t.Status, State: 'pending', Message: 'pending task scheduling', Timestamp: tx.now },
    });
  }

  /**
   * The task's own networks, or the ingress network for a service that publishes ports
   * without any; a service publishing in ingress mode joins the ingress network after its
   * own (the routing mesh reaches its tasks there; they register no names on it).
   */
  private networksOfTask(
    tx: Transaction,
    t: Task,
    service: Service | undefined,
  ): (NetworkAttachmentConfig & { network?: SwarmNetwork })[] | undefined {
    const own = t.Spec.Networks ?? [];
    if (!service) return own;
    const viaMesh = own.length > 0 && publishesThroughMesh(service.Spec);
    if (!viaMesh && (own.length > 0 || !usesIngressNetwork(service.Spec))) return own;
    const ingress = ingressNetworkOf(tx);
    // Missing only when a user's network named "ingress" kept allocateNetworks from creating it.
    if (!ingress) {
      this.dirtyTasks.add(t.ID); // retried once that network is gone (a networks event kicks the loop)
      this.markStuck(
        tx,
        t,
        `the service publishes ports and needs the ingress network, but network "${INGRESS_NETWORK_NAME}" is not an ingress network; remove or rename it`,
      );
      return undefined;
    }
    if (own.some((n) => n.Target === ingress.ID || n.Target === ingress.Spec.Name)) return own;
    return [...own, { Target: ingress.ID, network: ingress }];
  }

  private markStuck(tx: Transaction, t: Task, err: string): void {
    if (t.Status.Err === err) return;
    tx.update('tasks', { ...t, Status: { ...t.Status, Err: err } });
  }
}

function ingressNetworkOf(tx: Transaction): SwarmNetwork | undefined {
  return tx.list('networks').find((n) => n.Spec.Ingress === true);
}

function attachmentsOf(t: Task): { networkId: string; addr: string }[] {
  return (t.NetworksAttachments ?? []).flatMap((a) =>
    a.Addresses.map((addr) => ({ networkId: a.Network.Id, addr })),
  );
}

function networkTargets(s: Service): string[] {
  return [...(s.Spec.TaskTemplate?.Networks ?? []), ...(s.Spec.Networks ?? [])].map((n) => n.Target);
}

function portKey(p: PortConfig): string {
  return `${p.Protocol ?? 'tcp'}/${p.PublishedPort}`;
}
