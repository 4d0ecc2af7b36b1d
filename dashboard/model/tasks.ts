// A service's tasks as its page shows them. Types only from lib: the browser bundle
// imports this module, and lib's runtime (its logger) has no place there.
import type { Node, Service, Task } from '../../lib/index.js';

export interface TaskRow {
  id: string;
  /** `name.slot` (or `name.nodeId` for a global service), as `docker service ps` names it. */
  name: string;
  state: string;
  desired: string;
  node: string;
  error: string;
  /** Since the task's last state change, e.g. `5s`, `3m`, `2h`, `4d`. */
  age: string;
  current: boolean;
}

export function taskRows(
  service: Service,
  tasks: readonly Task[],
  nodes: readonly Node[],
  now: number,
): TaskRow[] {
  const hostOf = new Map(nodes.map((n) => [n.ID, n.Description?.Hostname ?? n.ID]));
  const name = service.Spec.Name ?? service.ID;
  return tasks
    .filter((t) => t.ServiceID === service.ID)
    .map((t) => ({
      id: t.ID,
      name: `${name}.${t.Slot ?? t.NodeID ?? ''}`,
      state: t.Status.State ?? '',
      desired: t.DesiredState,
      node: t.NodeID ? (hostOf.get(t.NodeID) ?? t.NodeID) : '',
      error: t.Status.Err ?? '',
      age: age(now - Date.parse(t.Status.Timestamp ?? t.UpdatedAt ?? '')),
      current: t.DesiredState === 'running',
    }))
    .sort(
      (a, b) =>
        Number(b.current) - Number(a.current) || a.name.localeCompare(b.name, 'en', { numeric: true }),
    );
}

export function age(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}
