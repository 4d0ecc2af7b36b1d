// A container's networks as a node sets them up: the network (what the dispatcher's
// network views describe and the network layer builds, also persisted by it under
// networks/), the container's attachment to it, and its published ports. The worker,
// the network layer and its CNI configuration all speak these shapes; the schemas are
// where the network layer checks them.
import { z } from 'zod';

export const NETWORK_DRIVERS = ['bridge', 'overlay'] as const;
export type NetworkDriver = (typeof NETWORK_DRIVERS)[number];

export const networkDefinitionSchema = z.object({
  id: z.string().min(1).max(256),
  name: z.string().min(1).max(256),
  driver: z.enum(NETWORK_DRIVERS),
  subnet: z.string(),
  gateway: z.string(),
  vxlanId: z.number().int().min(1).max(16_777_215).optional(),
  internal: z.boolean().optional(),
  labels: z.record(z.string(), z.string()).optional(),
});
/** One network on a node: a bridge, and for an overlay also its VXLAN device. */
export type NetworkDefinition = z.infer<typeof networkDefinitionSchema>;

const attachmentFields = {
  /** The names the container answers to on this network (embedded DNS). */
  aliases: z.array(z.string().min(1).max(253)),
  /** Static address from the manager's allocator (cluster mode); IPAM picks one otherwise. */
  ipv4Address: z.string().optional(),
};

/** A container's attachment to one network the node has already set up, by the network's ID. */
export const networkAttachmentByIdSchema = z.object({ networkId: z.string().min(1), ...attachmentFields });
export type NetworkAttachmentById = z.infer<typeof networkAttachmentByIdSchema>;

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

export const publishedPortSchema = z.object({
  containerPort: z.number().int().min(1).max(65_535),
  hostPort: z.number().int().min(1).max(65_535),
  protocol: z.enum(['tcp', 'udp']),
  hostIp: z.string().optional(),
});
/** A host port forwarded to the container (on its first network). */
export type PublishedPort = z.infer<typeof publishedPortSchema>;
