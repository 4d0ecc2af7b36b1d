// Stored objects → the shapes the Docker API returns. Derived fields (leadership,
// service status) are computed here, at read time, from the applied state.

import type { Network, Node, Secret, Service, SwarmNetwork } from '../../lib/index.js';
import type { Replicator, Store } from '../store/index.js';

export function presentNode(n: Node, replicator: Replicator): Node {
  if (!n.ManagerStatus) return n;
  const members = replicator.members?.();
  const reachability = members
    ? members.includes(n.ID)
      ? 'reachable'
      : 'unreachable'
    : n.ManagerStatus.Reachability;
  return {
    ...n,
    ManagerStatus: { ...n.ManagerStatus, Leader: replicator.leaderId() === n.ID, Reachability: reachability },
  };
}

export function presentNetwork(n: SwarmNetwork): Network & Record<string, unknown> {
  const spec = n.Spec;
  const ipam = n.IPAMOptions ?? spec.IPAMOptions;
  return {
    Name: spec.Name,
    Id: n.ID,
    Created: n.CreatedAt,
    Scope: 'swarm',
    Driver: spec.DriverConfiguration?.Name ?? 'overlay',
    EnableIPv6: spec.IPv6Enabled ?? false,
    IPAM: {
      Driver: ipam?.Driver?.Name ?? 'default',
      Options: ipam?.Driver?.Options ?? {},
      Config: ipam?.Configs ?? [],
    },
    Internal: spec.Internal ?? false,
    Attachable: spec.Attachable ?? false,
    Ingress: spec.Ingress ?? false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: {},
    Options: { ...(spec.DriverConfiguration?.Options ?? {}), ...(n.DriverState?.Options ?? {}) },
    Labels: spec.Labels ?? {},
  };
}

/** Secrets never carry their data out of the store; this is a second fence. */
export function presentSecret(s: Secret): Secret {
  if (s.Spec.Data === undefined) return s;
  const { Data: _hidden, ...spec } = s.Spec;
  return { ...s, Spec: spec };
}

/** `?status=true`: running and desired task counts, as `docker service ls` shows them. */
export function withServiceStatus(s: Service, store: Store): Service {
  const tasks = store.listTasks({ serviceId: s.ID });
  const running = tasks.filter((t) => t.Status.State === 'running' && t.DesiredState === 'running').length;
  const completed = tasks.filter((t) => t.Status.State === 'complete').length;
  const mode = s.Spec.Mode;
  let desired: number;
  if (mode?.Global || mode?.GlobalJob) desired = tasks.filter((t) => t.DesiredState === 'running').length;
  else if (mode?.ReplicatedJob) desired = mode.ReplicatedJob.MaxConcurrent ?? 1;
  else desired = mode?.Replicated?.Replicas ?? 1;
  return { ...s, ServiceStatus: { RunningTasks: running, DesiredTasks: desired, CompletedTasks: completed } };
}
