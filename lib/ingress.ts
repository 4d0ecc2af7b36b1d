// The cluster's `ingress` network, as Swarm has it: every cluster has one (bootstrap
// creates it; the leader re-creates it when a service needs it and it was removed), and
// a service that publishes ports without joining any network of its own is attached to
// it, so its tasks have an interface that the published ports can be mapped to.
import type { ServiceSpec } from './model/index.js';

export const INGRESS_NETWORK_NAME = 'ingress';

/**
 * Whether a service's tasks join the ingress network: it publishes ports and names no
 * network. Host-mode ports count too: without a network a task has only a loopback
 * interface, and a host-mode port is mapped on the task's own node, so the ingress
 * network plays the part of Docker's local bridge there.
 */
export function usesIngressNetwork(spec: ServiceSpec): boolean {
  const ports = spec.EndpointSpec?.Ports ?? [];
  if (!ports.some((p) => p.TargetPort)) return false;
  return (spec.TaskTemplate?.Networks ?? []).length === 0 && (spec.Networks ?? []).length === 0;
}

/**
 * Whether a service publishes a port in ingress mode (the default): its tasks then join
 * the ingress network, also when they have networks of their own (after them, as Swarm
 * attaches them), so that the routing mesh can reach them from every node.
 */
export function publishesThroughMesh(spec: ServiceSpec): boolean {
  return (spec.EndpointSpec?.Ports ?? []).some(
    (p) => p.TargetPort && (p.PublishMode ?? 'ingress') === 'ingress',
  );
}

/**
 * Each node's own address on the ingress network (what Swarm's ingress-sbox holds) is
 * recorded among the network's IPAM auxiliary addresses — the addresses the allocator
 * must not give to tasks — under this prefix and the node's ID.
 */
export const INGRESS_NODE_ADDRESS_PREFIX = 'skiff-node-';

/** The nodes' addresses on the ingress network, by node ID, from its IPAM auxiliary addresses. */
export function ingressNodeAddresses(aux: Record<string, string> | undefined): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, addr] of Object.entries(aux ?? {})) {
    if (key.startsWith(INGRESS_NODE_ADDRESS_PREFIX))
      out.set(key.slice(INGRESS_NODE_ADDRESS_PREFIX.length), addr);
  }
  return out;
}
