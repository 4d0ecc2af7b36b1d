// The names a task answers to on one of its networks. The agent registers them for its
// own containers and the dispatcher publishes them for every node's tasks, so one rule
// decides both.
import { COMPOSE_SERVICE_LABEL, SWARM_SERVICE_NAME_LABEL } from './labels.js';
import type { Task } from './model/index.js';

/**
 * Network aliases, the service's name and the compose service name (each also as
 * `tasks.NAME`), the task's name (`service.slot.taskID`, as Swarm names it) and the
 * container's hostname from the spec. Deduplicated, in that order.
 */
export function taskDnsNames(task: Task, network: { id: string; name?: string }): string[] {
  const service = task.Labels?.[SWARM_SERVICE_NAME_LABEL] ?? '';
  const composeService = task.Spec.ContainerSpec?.Labels?.[COMPOSE_SERVICE_LABEL];
  const spec = task.Spec.Networks?.find(
    (x) => x.Target === network.id || (network.name !== undefined && x.Target === network.name),
  );
  const services = [service, composeService].filter((x): x is string => !!x);
  const names = [
    ...(spec?.Aliases ?? []),
    ...services,
    ...services.map((s) => `tasks.${s}`),
    service ? `${service}.${task.Slot ?? task.NodeID ?? 'x'}.${task.ID}` : undefined,
    task.Spec.ContainerSpec?.Hostname,
  ];
  return [...new Set(names.filter((x): x is string => typeof x === 'string' && x !== ''))];
}
