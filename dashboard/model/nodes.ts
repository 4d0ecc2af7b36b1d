// The cluster page's nodes.
import type { Node, Task } from '../../lib/index.js';

export interface NodeRow {
  id: string;
  hostname: string;
  role: string;
  leader: boolean;
  state: string;
  availability: string;
  address: string;
  engine: string;
  cpus: string;
  memory: string;
  /** Tasks the node should be running. */
  tasks: number;
  labels: string[];
  version: number;
}

export function nodeRows(nodes: readonly Node[], tasks: readonly Task[]): NodeRow[] {
  const running = new Map<string, number>();
  for (const t of tasks)
    if (t.NodeID && t.DesiredState === 'running') running.set(t.NodeID, (running.get(t.NodeID) ?? 0) + 1);
  return nodes
    .map((n) => {
      const r = n.Description?.Resources;
      return {
        id: n.ID,
        hostname: n.Description?.Hostname ?? n.ID,
        role: n.Spec.Role ?? 'worker',
        leader: n.ManagerStatus?.Leader === true,
        state: n.Status.State,
        availability: n.Spec.Availability ?? 'active',
        address: n.Status.Addr ?? '',
        engine: n.Description?.Engine?.EngineVersion ?? '',
        cpus: r?.NanoCPUs ? `${Math.round(r.NanoCPUs / 1e9)}` : '',
        memory: r?.MemoryBytes ? bytes(r.MemoryBytes) : '',
        tasks: running.get(n.ID) ?? 0,
        labels: Object.entries(n.Spec.Labels ?? {}).map(([k, v]) => (v === '' ? k : `${k}=${v}`)),
        version: n.Version.Index,
      };
    })
    .sort((a, b) => a.hostname.localeCompare(b.hostname));
}

export function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n >= 10 || i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}
