// One scheduling pass: pending tasks in, placement decisions out. Pure: the caller
// gives a snapshot and turns the decisions into one batched store proposal.
//
// Tasks are grouped by what they ask of a node (service, placement, reservations,
// pinned node); each group filters the nodes once and then places its tasks through
// the preference tree and a heap, so a pass costs about O(groups × nodes + tasks ×
// log nodes) rather than a scan of every node for every task.

import {
  type Node,
  type Service,
  type Task,
  taskNeedsEncryptedOverlay,
  taskStateRank,
} from '../../lib/index.js';
import { buildNodeState, type NodeState } from './node-state.js';
import {
  explainFilter,
  FILTERS,
  type FilterName,
  failingFilter,
  fitsOneMore,
  passesStaticFilters,
  type Requirements,
  requirementsOf,
} from './requirements.js';
import { buildTree, pickNode, recordPlacement } from './spread.js';

const RUNNING_RANK = taskStateRank('running');

export interface ScheduleInput {
  /** Tasks waiting for a node, in the order they should be considered (tasks asked to stop are skipped). */
  pending: readonly Task[];
  nodes: readonly Node[];
  /** Tasks already on each node (assigned or running); they hold resources and ports. */
  tasksByNode: ReadonlyMap<string, readonly Task[]>;
  services: ReadonlyMap<string, Service>;
}

export interface Assignment {
  taskId: string;
  nodeId: string;
}

export interface Unschedulable {
  taskId: string;
  /** Docker's wording, e.g. "no suitable node (insufficient resources on 2 nodes)". */
  reason: string;
}

export interface ScheduleResult {
  assignments: Assignment[];
  unschedulable: Unschedulable[];
}

interface Group {
  tasks: Task[];
  /** What the group's tasks ask of a node: tasks group together when these are equal. */
  placement: unknown;
  reservations: unknown;
}

/** Tasks that ask the same of a node place identically, so they share one filtered candidate set. */
function groupTasks(pending: readonly Task[]): Group[] {
  const byService = new Map<string, Group[]>();
  const all: Group[] = [];
  for (const t of pending) {
    // A task asked to stop before it was placed needs no node.
    if (taskStateRank(t.DesiredState) > RUNNING_RANK && t.DesiredState !== 'complete') continue;
    // Mid-update, a service's tasks may differ in their networks: keep them apart when
    // one kind needs a node that can encrypt and the other does not.
    const k = `${t.ServiceID}\n${t.NodeID ?? ''}\n${taskNeedsEncryptedOverlay(t) ? 'esp' : ''}`;
    let groups = byService.get(k);
    if (!groups) {
      groups = [];
      byService.set(k, groups);
    }
    const placement = t.Spec.Placement;
    const reservations = t.Spec.Resources?.Reservations;
    let g = groups.find((x) => sameValue(x.placement, placement) && sameValue(x.reservations, reservations));
    if (!g) {
      g = { tasks: [], placement, reservations };
      groups.push(g);
      all.push(g);
    }
    g.tasks.push(t);
  }
  return all;
}

/** Structural equality of JSON-like values (a key set to undefined equals a missing key). */
function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  for (const k of Object.keys(ra)) if (!sameValue(ra[k], rb[k])) return false;
  for (const k of Object.keys(rb)) if (!(k in ra) && rb[k] !== undefined) return false;
  return true;
}

export function schedule(input: ScheduleInput): ScheduleResult {
  const portsCache = new Map<string, string[]>();
  const states: NodeState[] = [];
  const byId = new Map<string, NodeState>();
  for (const node of input.nodes) {
    const ns = buildNodeState(node, input.tasksByNode.get(node.ID) ?? [], input.services, portsCache);
    states.push(ns);
    byId.set(node.ID, ns);
  }

  const result: ScheduleResult = { assignments: [], unschedulable: [] };
  const staticCandidates = new Map<string, NodeState[]>();
  for (const { tasks } of groupTasks(input.pending)) {
    const first = tasks[0]!;
    const req = requirementsOf(first, input.services.get(first.ServiceID));
    if (req.invalid !== undefined) {
      for (const t of tasks) result.unschedulable.push({ taskId: t.ID, reason: req.invalid });
      continue;
    }
    const pool = req.nodeId !== undefined ? [byId.get(req.nodeId)].filter((x) => x !== undefined) : states;
    // Groups that ask the same of a node statically (most ask nothing) share one filtering.
    const key = staticKey(req);
    let candidates = staticCandidates.get(key);
    if (!candidates) {
      candidates = pool.filter((ns) => passesStaticFilters(req, ns));
      staticCandidates.set(key, candidates);
    }
    const root = buildTree(candidates, req.spreadBy, req.serviceId);
    const fits = (ns: NodeState): boolean => fitsOneMore(req, ns);
    let i = 0;
    for (; i < tasks.length; i++) {
      const ns = pickNode(root, fits);
      if (!ns) break;
      place(ns, req);
      recordPlacement(ns.leaf!, ns);
      result.assignments.push({ taskId: tasks[i]!.ID, nodeId: ns.id });
    }
    if (i < tasks.length) {
      const reason = explain(req, pool, input.nodes.length);
      for (; i < tasks.length; i++) result.unschedulable.push({ taskId: tasks[i]!.ID, reason });
    }
  }
  return result;
}

/** What passesStaticFilters reads of the requirements: equal keys pass the same nodes. */
function staticKey(req: Requirements): string {
  return JSON.stringify([req.nodeId ?? null, req.constraints, req.platforms, req.encryptedOverlay]);
}

function place(ns: NodeState, req: Requirements): void {
  ns.freeNanoCpus -= req.nanoCpus;
  ns.freeMemoryBytes -= req.memoryBytes;
  ns.activeTasks++;
  ns.activeByService.set(req.serviceId, (ns.activeByService.get(req.serviceId) ?? 0) + 1);
  ns.serviceTasks++;
  for (const p of req.hostPorts) ns.hostPorts.add(p);
}

function explain(req: Requirements, pool: readonly NodeState[], clusterSize: number): string {
  if (clusterSize === 0) return 'no suitable node (no nodes in the cluster)';
  if (pool.length === 0) return `no suitable node (node ${req.nodeId} is not in the cluster)`;
  const counts = new Map<FilterName, number>();
  for (const ns of pool) {
    const f = failingFilter(req, ns);
    if (f) counts.set(f, (counts.get(f) ?? 0) + 1);
  }
  // Most common failure first, as Docker words it; ties keep the filter order.
  const parts = FILTERS.filter((f) => counts.has(f))
    .sort((a, b) => counts.get(b)! - counts.get(a)!)
    .map((f) => explainFilter(f, counts.get(f)!));
  return `no suitable node (${parts.join('; ')})`;
}
