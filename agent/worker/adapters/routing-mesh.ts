// Binds the dispatcher's routing mesh view to agent/network: the ingress network is set
// up on this node (whether or not a task of the node is on it) with every live node as
// its VXLAN peer, then the node's mesh rules are programmed; once no port is published in
// ingress mode any more, the rules go and so does the network (if no container uses it).
import type { AssignedNetwork, Logger, RoutingMeshView } from '../../../lib/index.js';
import { describeError, silentLogger } from '../../../lib/index.js';
import type { NetworkManager } from '../../network/index.js';
import type { NetworkViews } from './network.js';

export type RoutingMeshTarget = Pick<NetworkManager, 'ensureNetwork' | 'setRoutingMesh'>;

export class RoutingMeshViews {
  private mesh: RoutingMeshView | null = null;
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly mgr: RoutingMeshTarget,
    private readonly views: Pick<NetworkViews, 'view' | 'apply'>,
    private readonly nodeId: string,
    private readonly log: Logger = silentLogger,
    /** As networksOfTask: a single node sets overlays up as plain bridges. */
    private readonly overlayAsBridge = false,
  ) {}

  /** Takes an assignment message's mesh (undefined: unchanged) after its networks. Never rejects. */
  update(mesh: RoutingMeshView | null | undefined): Promise<void> {
    if (mesh === undefined) return this.queue;
    this.mesh = mesh;
    const next = this.queue.then(() => this.program());
    this.queue = next;
    return next;
  }

  private async program(): Promise<void> {
    const mesh = this.mesh;
    try {
      const network = mesh && mesh.ports.length > 0 ? this.views.view(mesh.networkId) : undefined;
      if (mesh && mesh.ports.length > 0) {
        if (!network) {
          // The ingress network's view travels with the mesh: a mesh without it is a bug upstream.
          this.log.warn({ networkId: mesh.networkId }, 'routing mesh without its network view');
          return;
        }
        await this.mgr.ensureNetwork(definitionOf(network, this.overlayAsBridge));
        await this.views.apply(network.id); // its peers: every live node
      }
      await this.mgr.setRoutingMesh(mesh, this.nodeId);
    } catch (e) {
      this.log.error({ err: describeError(e) }, 'cannot program the routing mesh');
    }
  }
}

function definitionOf(n: AssignedNetwork, overlayAsBridge: boolean) {
  const overlay = n.driver === 'overlay' && !overlayAsBridge;
  return {
    id: n.id,
    name: n.name,
    driver: overlay ? ('overlay' as const) : ('bridge' as const),
    subnet: n.subnet,
    gateway: n.gateway,
    ...(n.vxlanId === undefined || !overlay ? {} : { vxlanId: n.vxlanId }),
    ...(n.internal === undefined ? {} : { internal: n.internal }),
    ...(n.mtu === undefined ? {} : { mtu: n.mtu }),
    ...(n.encrypted && overlay ? { encrypted: true } : {}),
  };
}
