// The names a task answers to on one of its networks. The agent registers them for its
// own containers and the dispatcher publishes them for every node's tasks, so one rule
// decides both. A service in `vip` endpoint mode (the default) answers its service names
// with its virtual IP on the network, balanced over its tasks by each client's node;
// `tasks.NAME`, the task's own name and hostname always answer with the task's address.
import { COMPOSE_SERVICE_LABEL, SWARM_SERVICE_NAME_LABEL } from './labels.js';
import type { Task } from './model/index.js';

interface NetworkRef {
  id: string;
  name?: string;
}

/** The task's service VIP on the network (address without prefix), when the service uses one. */
export function taskServiceVip(task: Task, networkId: string): string | undefined {
  if ((task.Endpoint?.Spec?.Mode ?? 'vip') !== 'vip') return undefined;
  const addr = task.Endpoint?.VirtualIPs?.find((v) => v.NetworkID === networkId)?.Addr;
  return addr ? addr.split('/')[0] : undefined;
}

/**
 * The names the service answers to on the network: network aliases, the service's name
 * and the compose service name. None on a network the task did not ask for (the
 * `ingress` network a publishing service is attached to): services do not find each
 * other there.
 */
export function serviceDnsNames(task: Task, network: NetworkRef): string[] {
  const spec = requestedNetwork(task, network);
  if (!spec) return [];
  const service = task.Labels?.[SWARM_SERVICE_NAME_LABEL] ?? '';
  const composeService = task.Spec.ContainerSpec?.Labels?.[COMPOSE_SERVICE_LABEL];
  return dedupe([...(spec.Aliases ?? []), service, composeService]);
}

/**
 * The names answered with the task's own address: the service names when the service has
 * no VIP on the network (dnsrr), each service name and alias as `tasks.NAME` (as Swarm
 * does: a stack's `web` is an alias of `stack_web`), the task's name
 * (`service.slot.taskID`, as Swarm names it) and the container's hostname from the spec.
 * Deduplicated, in that order; none on a network the task did not ask for.
 */
export function taskDnsNames(task: Task, network: NetworkRef): string[] {
  if (!requestedNetwork(task, network)) return [];
  const service = task.Labels?.[SWARM_SERVICE_NAME_LABEL] ?? '';
  const serviceNames = serviceDnsNames(task, network);
  const viaVip = taskServiceVip(task, network.id) !== undefined;
  return dedupe([
    ...(viaVip ? [] : serviceNames),
    ...serviceNames.map((s) => `tasks.${s}`),
    service ? `${service}.${task.Slot ?? task.NodeID ?? 'x'}.${task.ID}` : undefined,
    task.Spec.ContainerSpec?.Hostname,
  ]);
}

function requestedNetwork(task: Task, network: NetworkRef) {
  return task.Spec.Networks?.find(
    (x) => x.Target === network.id || (network.name !== undefined && x.Target === network.name),
  );
}

function dedupe(names: (string | undefined)[]): string[] {
  return [...new Set(names.filter((x): x is string => typeof x === 'string' && x !== ''))];
}
