// Binds the worker's NetworkPort to agent/network: a sandbox per container, CNI
// attachments in the order of the task's networks, names for the embedded DNS, the
// dispatcher's network views (VXLAN peers, other nodes' names), and removal of a node's
// network once its last container left it.
import type { AssignedNetwork, ContainerNetworkAttachment, Logger, Task } from '../../../lib/index.js';
import {
  attachmentById,
  describeError,
  isEncryptedNetwork,
  isSkiffError,
  MTU_OPTION,
  monoMs,
  silentLogger,
  taskDnsNames,
  VXLAN_ID_OPTION,
} from '../../../lib/index.js';
import type { NetworkManager } from '../../network/index.js';
import type { NetworkPort } from '../ports.js';

export function networkPort(
  mgr: NetworkManager,
  log: Logger = silentLogger,
  views?: NetworkViews,
): NetworkPort {
  /**
   * The namespace and the node's side of the networks first; the interfaces are attached
   * in the background (`attached`), so the worker creates the container meanwhile.
   */
  const sandbox: NonNullable<NetworkPort['sandbox']> = async (containerId, attachments, ports) => {
    // The namespace does not depend on the networks: made while they are set up. Its
    // failure is awaited below; until then it must not count as unhandled (that would
    // end the daemon).
    const made = mgr.createSandbox(containerId);
    made.catch(() => {});
    let resolvConf: string | undefined;
    try {
      for (const a of attachments) {
        await mgr.ensureNetwork({ ...a.network }, containerId);
        // A network set up just now gets its peers and names before the container starts.
        await views?.apply(a.network.id);
      }
      const first = attachments[0];
      if (first) resolvConf = mgr.dns.resolvConfOn(containerId, first.network.id);
    } catch (e) {
      await made.then(() => mgr.removeSandbox(containerId)).catch(() => {});
      throw e;
    }
    const { netnsPath } = await made;
    if (attachments.length === 0) return { netnsPath, attached: Promise.resolve({ addresses: [] }) };
    const attached = mgr.attach(containerId, netnsPath, attachments.map(attachmentById), ports).then(
      ({ interfaces }) => ({ addresses: interfaces.map((i) => ({ networkId: i.networkId, ip: i.ip })) }),
      async (e: unknown) => {
        await mgr.removeSandbox(containerId).catch(() => {});
        throw e;
      },
    );
    // Awaited by the caller after its own step; a failure meanwhile is not "unhandled".
    attached.catch(() => {});
    return { netnsPath, ...(resolvConf === undefined ? {} : { resolvConf }), attached };
  };
  return {
    sandbox,

    async attach(containerId, attachments, ports) {
      const { netnsPath, resolvConf, attached } = await sandbox(containerId, attachments, ports);
      const { addresses } = await attached;
      return { netnsPath, addresses, ...(resolvConf === undefined ? {} : { resolvConf }) };
    },

    sandboxes: () => mgr.sandboxIds(),

    async detach(containerId, networkIds) {
      await mgr.removeSandbox(containerId);
      for (const id of networkIds) {
        try {
          await mgr.removeNetwork(id);
        } catch (e) {
          // Still used by another container on this node: it stays.
          if (!isSkiffError(e) || e.code !== 'conflict')
            log.warn({ networkId: id, err: String(e) }, 'network removal failed');
        }
      }
    },
  };
}

/**
 * The networks a task joins, from its allocated attachments, with the names it answers
 * to with its own address (taskDnsNames: the service's names only without a VIP).
 */
export function networksOfTask(
  task: Task,
  opts: { overlayAsBridge?: boolean } = {},
): ContainerNetworkAttachment[] {
  return (task.NetworksAttachments ?? []).map((a) => {
    const n = a.Network;
    const cfg = n.IPAM.Config?.[0];
    const vxlan = Number(n.Options?.[VXLAN_ID_OPTION]);
    const mtu = Number(n.Options?.[MTU_OPTION]);
    const overlay = n.Driver === 'overlay' && !opts.overlayAsBridge;
    return {
      network: {
        id: n.Id,
        name: n.Name,
        driver: overlay ? 'overlay' : 'bridge',
        subnet: cfg?.Subnet ?? '',
        gateway: cfg?.Gateway ?? '',
        ...(overlay && Number.isFinite(vxlan) ? { vxlanId: vxlan } : {}),
        internal: n.Internal,
        ...(Number.isInteger(mtu) && mtu > 0 ? { mtu } : {}),
        ...(overlay && isEncryptedNetwork(n.Options) ? { encrypted: true } : {}),
      },
      aliases: taskDnsNames(task, { id: n.Id, name: n.Name }),
      ...(a.Addresses[0] ? { ipv4Address: a.Addresses[0].split('/')[0] } : {}),
    };
  });
}

/**
 * The dispatcher's view of this node's networks: the other nodes to tunnel to and the
 * names of every node's tasks. Kept per network and programmed whenever the network is
 * set up on this node (now, or later when a task needs it); a network the node has no
 * tasks on any more loses its peers and names.
 */
/** The part of the network layer that network views program. */
export type NetworkViewTarget = Pick<
  NetworkManager,
  'getNetwork' | 'listNetworks' | 'setOverlayPeers' | 'setServiceVips'
> & {
  dns: Pick<NetworkManager['dns'], 'setRecords'>;
};

/** A network's peers and names programmed; its VIP tables written when `vips` resolves. */
interface Programmed {
  vips: Promise<void>;
}

export class NetworkViews {
  private readonly views = new Map<string, AssignedNetwork>();
  /** Per network, so FDB changes of one network never interleave. */
  private readonly queues = new Map<string, Promise<void>>();
  /** Per network, the view its tables were last marked for rewriting from. */
  private readonly programmed = new Map<string, AssignedNetwork | undefined>();

  constructor(
    private readonly mgr: NetworkViewTarget,
    private readonly log: Logger = silentLogger,
  ) {}

  /** Takes one assignment message's networks; a complete set replaces every view. */
  update(msg: { complete: boolean; networks: AssignedNetwork[]; removedNetworks: string[] }): Promise<void> {
    const touched = new Set([...msg.networks.map((n) => n.id), ...msg.removedNetworks]);
    if (msg.complete) {
      for (const id of this.views.keys()) touched.add(id);
      for (const n of this.mgr.listNetworks()) touched.add(n.id);
      this.views.clear();
    }
    for (const id of msg.removedNetworks) this.views.delete(id);
    for (const n of msg.networks) this.views.set(n.id, n);
    // Resolves once the VIP tables are written too.
    return Promise.all([...touched].map((id) => this.queue(id).then((p) => p.vips))).then(() => {});
  }

  /** The dispatcher's latest view of a network. */
  view(networkId: string): AssignedNetwork | undefined {
    return this.views.get(networkId);
  }

  /**
   * Programs the network's peers and names, if it is set up on this node. Never throws.
   * Does not wait for the VIP tables of the containers on it (a starting container's
   * network is set up on its start path; the tables are rewritten in batches).
   */
  apply(networkId: string): Promise<void> {
    return this.queue(networkId).then(() => {});
  }

  private queue(networkId: string): Promise<Programmed> {
    const next = (this.queues.get(networkId) ?? Promise.resolve()).then(() => this.program(networkId));
    const settled = next.then(() => {});
    this.queues.set(networkId, settled);
    void settled.then(() => {
      if (this.queues.get(networkId) === settled) this.queues.delete(networkId);
    });
    return next;
  }

  private async program(networkId: string): Promise<Programmed> {
    const def = this.mgr.getNetwork(networkId);
    const view = this.views.get(networkId);
    this.mgr.dns.setRecords(networkId, view?.records ?? []);
    // Marked for the next batch of table rewrites (service-lb.ts); never rejects. Two
    // changes skip the batching delays: a task that left a VIP's set is stopping (its
    // drain), so the tables drop it well within the drain even on a busy node; and a VIP
    // that had no task to send to gets some, as every connection to it is refused until
    // its tables say so (a service's first tasks coming up, a stop-first update of one
    // replica), while its names (tasks.NAME) already answer.
    const before = this.programmed.get(networkId);
    this.programmed.set(networkId, view);
    const left = backendLeft(before, view);
    const filled = vipFilled(before, view);
    const urgent = left || filled;
    if (urgent)
      this.log.debug(
        { networkId, mono: monoMs() },
        left
          ? 'a task left a VIP set: its tables rewritten at once'
          : 'a VIP got its first tasks: its tables rewritten at once',
      );
    const vips = this.mgr.setServiceVips(networkId, view?.vips ?? [], { urgent });
    if (def?.driver === 'overlay') {
      const peers = (view?.peers ?? []).map((p) => ({ nodeId: p.nodeId, underlayIp: p.addr }));
      try {
        await this.mgr.setOverlayPeers(networkId, peers);
      } catch (e) {
        // Removed meanwhile (its last container left): nothing to program.
        if (this.mgr.getNetwork(networkId))
          this.log.warn({ networkId, err: describeError(e) }, 'could not set overlay peers');
      }
    }
    return { vips };
  }
}

/** Whether an address that took a VIP's new connections in `before` takes none in `after`. */
function backendLeft(before: AssignedNetwork | undefined, after: AssignedNetwork | undefined): boolean {
  const now = new Set((after?.vips ?? []).flatMap((v) => v.backends.map((b) => `${v.vip}>${b}`)));
  return (before?.vips ?? []).some((v) => v.backends.some((b) => !now.has(`${v.vip}>${b}`)));
}

/** Whether a VIP that had no address to send new connections to (or was not there) has some in `after`. */
function vipFilled(before: AssignedNetwork | undefined, after: AssignedNetwork | undefined): boolean {
  const had = new Set((before?.vips ?? []).filter((v) => v.backends.length > 0).map((v) => v.vip));
  return (after?.vips ?? []).some((v) => v.backends.length > 0 && !had.has(v.vip));
}
