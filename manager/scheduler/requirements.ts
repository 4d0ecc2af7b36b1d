// What a group of pending tasks asks of a node, and the filters that check it, in
// the order Docker explains failures: availability, resources, constraints,
// platform, encrypted overlays, host ports, max replicas per node.

import type { Platform, Service, Task } from '../../lib/index.js';
import { describeError, nodeCarriesEncryptedOverlays, taskNeedsEncryptedOverlay } from '../../lib/index.js';
import {
  type Constraint,
  type ConstraintKey,
  nodeMatchesConstraints,
  nodeRunsPlatforms,
  parseAttributeKey,
  parseConstraints,
} from '../constraints/index.js';
import { hostPortsOf, type NodeState } from './node-state.js';

export interface Requirements {
  serviceId: string;
  /** Set when the task names its node already (global services). */
  nodeId: string | undefined;
  constraints: Constraint[];
  /** Why the task can never be placed (e.g. an invalid constraint), if so. */
  invalid: string | undefined;
  platforms: Platform[];
  /** The task is on an encrypted overlay: only a node that can carry one may run it. */
  encryptedOverlay: boolean;
  nanoCpus: number;
  memoryBytes: number;
  hostPorts: string[];
  maxReplicas: number;
  spreadBy: ConstraintKey[];
}

export function requirementsOf(task: Task, service: Service | undefined): Requirements {
  const placement = task.Spec.Placement;
  const reservations = task.Spec.Resources?.Reservations;
  let constraints: Constraint[] = [];
  let invalid: string | undefined;
  try {
    constraints = parseConstraints(placement?.Constraints);
  } catch (e) {
    invalid = describeError(e);
  }
  const spreadBy: ConstraintKey[] = [];
  for (const pref of placement?.Preferences ?? []) {
    const descriptor = pref.Spread?.SpreadDescriptor;
    if (!descriptor) continue;
    const key = parseAttributeKey(descriptor);
    if (!key) invalid ??= `invalid placement preference "spread=${descriptor}": unknown key`;
    else spreadBy.push(key);
  }
  return {
    serviceId: task.ServiceID,
    nodeId: task.NodeID || undefined,
    constraints,
    invalid,
    platforms: placement?.Platforms ?? [],
    encryptedOverlay: taskNeedsEncryptedOverlay(task),
    nanoCpus: reservations?.NanoCPUs ?? 0,
    memoryBytes: reservations?.MemoryBytes ?? 0,
    hostPorts: hostPortsOf(service),
    maxReplicas: placement?.MaxReplicas ?? 0,
    spreadBy,
  };
}

/** Filters in the order failures are explained; each says how to word N failing nodes. */
export const FILTERS = [
  'ready',
  'resources',
  'constraints',
  'platform',
  'encryptedOverlay',
  'hostPort',
  'maxReplicas',
] as const;
export type FilterName = (typeof FILTERS)[number];

export function explainFilter(filter: FilterName, nodes: number): string {
  const n = nodes === 1 ? '1 node' : `${nodes} nodes`;
  switch (filter) {
    case 'ready':
      return `${n} not available for new tasks`;
    case 'resources':
      return `insufficient resources on ${n}`;
    case 'constraints':
      return `scheduling constraints not satisfied on ${n}`;
    case 'platform':
      return `unsupported platform on ${n}`;
    case 'encryptedOverlay':
      return `no IPsec ESP for encrypted overlays on ${n}`;
    case 'hostPort':
      return `host-mode port already in use on ${n}`;
    case 'maxReplicas':
      return 'max replicas per node limit exceed';
  }
}

function platformMatches(req: Requirements, ns: NodeState): boolean {
  return nodeRunsPlatforms(ns.node, req.platforms);
}

function carriesOverlays(req: Requirements, ns: NodeState): boolean {
  return !req.encryptedOverlay || nodeCarriesEncryptedOverlays(ns.node.Description);
}

/** The first filter the node fails for this requirement, or undefined if it fits. */
export function failingFilter(req: Requirements, ns: NodeState): FilterName | undefined {
  const node = ns.node;
  if (node.Status.State !== 'ready' || (node.Spec.Availability ?? 'active') !== 'active') return 'ready';
  if (!fitsResources(req, ns)) return 'resources';
  if (!nodeMatchesConstraints(node, req.constraints)) return 'constraints';
  if (!platformMatches(req, ns)) return 'platform';
  if (!carriesOverlays(req, ns)) return 'encryptedOverlay';
  if (!fitsPorts(req, ns)) return 'hostPort';
  if (!fitsMaxReplicas(req, ns)) return 'maxReplicas';
  return undefined;
}

/** The filters that do not change while tasks are placed in one pass. */
export function passesStaticFilters(req: Requirements, ns: NodeState): boolean {
  const node = ns.node;
  if (req.nodeId !== undefined && node.ID !== req.nodeId) return false;
  if (node.Status.State !== 'ready' || (node.Spec.Availability ?? 'active') !== 'active') return false;
  return (
    nodeMatchesConstraints(node, req.constraints) && platformMatches(req, ns) && carriesOverlays(req, ns)
  );
}

function fitsResources(req: Requirements, ns: NodeState): boolean {
  return req.nanoCpus <= ns.freeNanoCpus && req.memoryBytes <= ns.freeMemoryBytes;
}

function fitsPorts(req: Requirements, ns: NodeState): boolean {
  for (const p of req.hostPorts) if (ns.hostPorts.has(p)) return false;
  return true;
}

function fitsMaxReplicas(req: Requirements, ns: NodeState): boolean {
  return req.maxReplicas <= 0 || (ns.activeByService.get(req.serviceId) ?? 0) < req.maxReplicas;
}

/** The filters that change as tasks land on the node. */
export function fitsOneMore(req: Requirements, ns: NodeState): boolean {
  return fitsResources(req, ns) && fitsPorts(req, ns) && fitsMaxReplicas(req, ns);
}
