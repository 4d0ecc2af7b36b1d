// The node's container events as task events. A node's `/events` carries its own
// containers' lifecycle (start, die, health, …) with Swarm's task labels, so a task's
// progress on the node the dashboard talks to shows as it happens; tasks on other
// nodes have no such events (the status poll covers them). Pure.
import {
  SWARM_SERVICE_ID_LABEL,
  SWARM_SERVICE_NAME_LABEL,
  SWARM_TASK_ID_LABEL,
  SWARM_TASK_NAME_LABEL,
} from '../../lib/index.js';

export interface TaskEvent {
  type: 'task';
  /** The container's action: `start`, `die`, `health_status: healthy`, … */
  action: string;
  /** The task's ID. */
  id: string;
  /** The task's name (`web.1.<id>`). */
  name?: string;
  service: string;
  serviceName?: string;
  exitCode?: string;
}

interface DockerEventLine {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
}

/** The task event a container event stands for, or undefined when it is no task's container. */
export function taskEvent(e: DockerEventLine): TaskEvent | undefined {
  if (e.Type !== 'container') return undefined;
  const a = e.Actor?.Attributes ?? {};
  const id = a[SWARM_TASK_ID_LABEL];
  const service = a[SWARM_SERVICE_ID_LABEL];
  if (!id || !service) return undefined;
  const name = a[SWARM_TASK_NAME_LABEL];
  const serviceName = a[SWARM_SERVICE_NAME_LABEL];
  return {
    type: 'task',
    action: e.Action ?? 'update',
    id,
    service,
    ...(name ? { name } : {}),
    ...(serviceName ? { serviceName } : {}),
    ...(a.exitCode !== undefined ? { exitCode: a.exitCode } : {}),
  };
}
