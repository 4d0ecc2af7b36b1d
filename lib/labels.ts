// The label names skiff reads and writes on objects and containers: each is part of a
// contract between components (the deployer and the orchestrator, the worker and the
// CLI) or with Docker's tools, so each is defined here once.

/** The stack a service, network, secret or config belongs to (as `docker stack deploy` sets it). */
export const STACK_NAMESPACE_LABEL = 'com.docker.stack.namespace';
/** The image a stack service was deployed with (as `docker stack deploy` sets it). */
export const STACK_IMAGE_LABEL = 'com.docker.stack.image';

/** The compose project of a service or volume (as `docker compose` sets it). */
export const COMPOSE_PROJECT_LABEL = 'com.docker.compose.project';
/** The compose service name; tasks also answer to it in DNS. */
export const COMPOSE_SERVICE_LABEL = 'com.docker.compose.service';
/**
 * The ID of the image a compose service was built to (docker compose's container label):
 * a rebuilt image changes the spec, so `up` rolls the service onto it.
 */
export const COMPOSE_IMAGE_LABEL = 'com.docker.compose.image';
/** Marks a `compose run` one-off (value `True`, as docker compose writes it). */
export const COMPOSE_ONEOFF_LABEL = 'com.docker.compose.oneoff';

/** Where the deployer records a service's depends_on for the orchestrator (see depends-on.ts). */
export const DEPENDS_ON_LABEL = 'io.skiff.depends_on';
/** A hash of the spec as the file said it, to tell "unchanged" without the server's defaults in the way. */
export const SPEC_HASH_LABEL = 'io.skiff.spec-hash';
/**
 * On each version of a stack secret or config: the name the stack file gives it (the
 * first version's own name), so a deploy finds every version of it and rotates a changed
 * one under a new name instead of refusing (moby#35803).
 */
export const VERSION_OF_LABEL = 'io.skiff.version-of';
/** On each version of a stack secret or config: the sha256 of its content, since a secret's data is never read back. */
export const CONTENT_HASH_LABEL = 'io.skiff.content-hash';
/**
 * A stack service's sections of its compose files as the user wrote them (comments kept,
 * not interpolated, capped; codec in compose-source.ts), for the dashboard. Left out of
 * the spec hash and the deploy plan's diff: a comment or whitespace change is no change.
 */
export const COMPOSE_SOURCE_LABEL = 'io.skiff.compose.source';
/** The replica count a `compose stop` saved, for `compose start` to restore. */
export const COMPOSE_STOPPED_REPLICAS_LABEL = 'io.skiff.compose.stopped-replicas';

/** Labels Swarm puts on a task and its container; `docker service logs` names them too. */
export const SWARM_SERVICE_NAME_LABEL = 'com.docker.swarm.service.name';
export const SWARM_SERVICE_ID_LABEL = 'com.docker.swarm.service.id';
export const SWARM_TASK_ID_LABEL = 'com.docker.swarm.task.id';
export const SWARM_TASK_NAME_LABEL = 'com.docker.swarm.task.name';
export const SWARM_NODE_ID_LABEL = 'com.docker.swarm.node.id';
/** Marks a standalone container (`docker run` on a node), never a task's: the worker leaves it alone. */
export const STANDALONE_CONTAINER_LABEL = 'io.skiff.container.standalone';
/** The hostname of the node running a task's container. */
export const NODE_HOSTNAME_LABEL = 'io.skiff.node.hostname';

/** The network driver option carrying an overlay's VXLAN ID (allocator → dispatcher → agent), as Swarm names it. */
export const VXLAN_ID_OPTION = 'com.docker.network.driver.overlay.vxlanid_list';

/**
 * The overlay driver option asking for an encrypted data path (`--opt encrypted`), as
 * Docker names it: present (any value, as in Swarm) means the overlay's VXLAN traffic
 * between nodes travels in IPsec ESP (docs/networking.md).
 */
export const ENCRYPTED_NETWORK_OPTION = 'encrypted';

/** Whether a network's driver options ask for an encrypted overlay. */
export function isEncryptedNetwork(options: Record<string, string> | undefined | null): boolean {
  return options != null && Object.hasOwn(options, ENCRYPTED_NETWORK_OPTION);
}
/** The driver option that sets a network's MTU (Docker's); overlays default to the underlay's less VXLAN's 50 bytes. */
export const MTU_OPTION = 'com.docker.network.driver.mtu';

/**
 * A service label (`io.skiff.ingress.client-address=keep`) asking the routing mesh to
 * keep the client's address: a node running a serving task of the service delivers its
 * published ports to its own tasks only, without source NAT; a node running none still
 * forwards over the mesh, with its own address as source (docs/networking.md).
 */
export const INGRESS_CLIENT_ADDRESS_LABEL = 'io.skiff.ingress.client-address';
export const INGRESS_CLIENT_ADDRESS_KEEP = 'keep';
