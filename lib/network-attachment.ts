// A container's networks as a node sets them up: the network (what the dispatcher's
// network views describe and the network layer builds, also persisted by it under
// networks/), the container's attachment to it, and its published ports. The worker,
// the network layer and its CNI configuration all speak these shapes. Plain types: the
// network layer checks them at its edge with zod schemas tied to these types
// (agent/network/types.ts), so that lib — loaded by every CLI command — loads no zod.

export const NETWORK_DRIVERS = ['bridge', 'overlay'] as const;
export type NetworkDriver = (typeof NETWORK_DRIVERS)[number];

/** One network on a node: a bridge, and for an overlay also its VXLAN device. */
export interface NetworkDefinition {
  id: string;
  name: string;
  driver: NetworkDriver;
  subnet: string;
  gateway: string;
  vxlanId?: number | undefined;
  internal?: boolean | undefined;
  /** The interfaces' MTU, when the network sets one (MTU_OPTION). */
  mtu?: number | undefined;
  /** An overlay whose VXLAN traffic between nodes travels in IPsec ESP (ENCRYPTED_NETWORK_OPTION). */
  encrypted?: boolean | undefined;
  labels?: Record<string, string> | undefined;
}

/** A container's attachment to one network the node has already set up, by the network's ID. */
export interface NetworkAttachmentById {
  networkId: string;
  /** The names the container answers to on this network (embedded DNS). */
  aliases: string[];
  /** Static address from the manager's allocator (cluster mode); IPAM picks one otherwise. */
  ipv4Address?: string | undefined;
}

/** A container's attachment to one network, the network described in full (set up on first use). */
export type ContainerNetworkAttachment = Omit<NetworkAttachmentById, 'networkId'> & {
  network: NetworkDefinition;
};

export function attachmentById(a: ContainerNetworkAttachment): NetworkAttachmentById {
  return {
    networkId: a.network.id,
    aliases: a.aliases,
    ...(a.ipv4Address === undefined ? {} : { ipv4Address: a.ipv4Address }),
  };
}

/** A host port forwarded to the container (on its first network). */
export interface PublishedPort {
  containerPort: number;
  hostPort: number;
  protocol: 'tcp' | 'udp';
  hostIp?: string | undefined;
}
