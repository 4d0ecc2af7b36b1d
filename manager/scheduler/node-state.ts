// What the scheduler knows about one node during a pass: free reserved resources,
// host ports in use and task counts, updated in place as tasks are placed.

import { type Node, type Service, type Task, TERMINAL_TASK_STATES, taskStateRank } from '../../lib/index.js';
import type { Branch } from './spread.js';

export interface NodeState {
  node: Node;
  id: string;
  freeNanoCpus: number;
  freeMemoryBytes: number;
  /** Tasks meant to run here (desired state running or earlier, or a job's 'complete'). */
  activeTasks: number;
  activeByService: Map<string, number>;
  /** `proto/port` of host-mode published ports held by tasks here. */
  hostPorts: Set<string>;
  /** activeByService for the service being placed right now, kept as a plain field for the heap's comparisons. */
  serviceTasks: number;
  /** Its leaf in the preference tree of the group being placed (a field, not a map of every node per group). */
  leaf: Branch | undefined;
}

const RUNNING_RANK = taskStateRank('running');

/** Host-mode published ports of a service, as `proto/port`. */
export function hostPortsOf(service: Service | undefined): string[] {
  const ports = service?.Spec.EndpointSpec?.Ports ?? [];
  const out: string[] = [];
  for (const p of ports) {
    if (p.PublishMode === 'host' && p.PublishedPort) out.push(`${p.Protocol ?? 'tcp'}/${p.PublishedPort}`);
  }
  return out;
}

export function buildNodeState(
  node: Node,
  tasks: readonly Task[],
  services: ReadonlyMap<string, Service>,
  portsCache: Map<string, string[]>,
): NodeState {
  const state: NodeState = {
    node,
    id: node.ID,
    freeNanoCpus: node.Description?.Resources?.NanoCPUs ?? 0,
    freeMemoryBytes: node.Description?.Resources?.MemoryBytes ?? 0,
    activeTasks: 0,
    activeByService: new Map(),
    hostPorts: new Set(),
    serviceTasks: 0,
    leaf: undefined,
  };
  for (const t of tasks) {
    // A task holds its node's resources until the agent reports it gone.
    if (t.Status.State !== undefined && TERMINAL_TASK_STATES.has(t.Status.State)) continue;
    const r = t.Spec.Resources?.Reservations;
    state.freeNanoCpus -= r?.NanoCPUs ?? 0;
    state.freeMemoryBytes -= r?.MemoryBytes ?? 0;
    let ports = portsCache.get(t.ServiceID);
    if (!ports) {
      ports = hostPortsOf(services.get(t.ServiceID));
      portsCache.set(t.ServiceID, ports);
    }
    for (const p of ports) state.hostPorts.add(p);
    // Job tasks want 'complete': they count as active too.
    if (taskStateRank(t.DesiredState) <= RUNNING_RANK || t.DesiredState === 'complete') {
      state.activeTasks++;
      state.activeByService.set(t.ServiceID, (state.activeByService.get(t.ServiceID) ?? 0) + 1);
    }
  }
  return state;
}
