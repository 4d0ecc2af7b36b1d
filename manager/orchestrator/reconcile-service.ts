// Replicated and global services: desired state → task changes. One pass handles
// lost nodes, scaling, restarts (with their delay), the rolling update, releasing
// replacements that wait for their predecessor, and the per-slot task history.
//
// A slot is a replica number (replicated) or a node ID (global). Its tasks are its
// history; at most one of them should be live, except while a start-first update
// runs the new task next to the old one.

import type { Node, Service, Task } from '../../lib/index.js';
import { nodeSuitsSpec } from '../constraints/index.js';
import { trimHistory } from './history.js';
import {
  byCreation,
  type Changes,
  type Deps,
  endedOnItsOwn,
  isLive,
  isObservedRunning,
  isObservedTerminal,
  isStopRequested,
  neverDispatched,
  newTask,
  type ServiceInput,
  wakeAtLeast,
} from './model.js';
import { Pass } from './pass.js';
import { decideRestart, releaseTimeOf } from './restart.js';
import { advanceUpdate, applyFailureAction, compareSlots, type SlotView } from './update.js';

export function reconcileLongRunning(input: ServiceInput, deps: Deps): Changes {
  const p = new Pass(input.service, input.tasks, input.nodes, deps);
  const global = input.service.Spec.Mode?.Global !== undefined;

  stopTasksOnLostNodes(p);
  applyFailureAction(p, global ? liveNodeCount(p) : replicasOf(input.service));

  const slots = groupSlots(p, global);
  const kept = global ? keepGlobalSlots(p, slots) : keepReplicatedSlots(p, slots, replicasOf(p.service));

  // A global task is only (re)started on a node that takes new tasks: a paused node
  // keeps what it runs, unrestarted and not updated, as in Docker.
  const startable = global ? kept.filter((s) => takesNewTasks(p.nodes.get(s.key))) : kept;
  for (const slot of startable) fillSlot(p, slot);
  advanceUpdate(p, startable, (slot, desired) => createIn(p, slot, desired));
  for (const slot of kept) {
    releaseWaitingTask(p, slot, 'running');
    retireReplacedTasks(p, slot);
  }
  trimHistory(p, slots, new Set(kept.map((s) => s.key)), input.cluster?.taskHistoryRetentionLimit);
  return p.finish();
}

function replicasOf(s: Service): number {
  return s.Spec.Mode?.Replicated?.Replicas ?? (s.Spec.Mode?.Global ? 0 : 1);
}

function liveNodeCount(p: Pass): number {
  const nodes = new Set<string>();
  for (const t of p.tasks.values()) if (isLive(t) && t.NodeID) nodes.add(t.NodeID);
  return nodes.size;
}

/** Why a node can no longer hold tasks, if it cannot. */
export function nodeLoss(node: Node | undefined): 'removed' | 'down' | 'drained' | undefined {
  if (!node) return 'removed';
  if (node.Status.State === 'down') return 'down';
  if (node.Spec.Availability === 'drain') return 'drained';
  return undefined;
}

/**
 * Tasks on a down or removed node are orphaned (no agent will report on them) and
 * stopped; tasks on a drained node are asked to stop. Their slots are refilled. A task
 * already asked to stop is orphaned too: otherwise it would show `running` for ever.
 */
export function stopTasksOnLostNodes(p: Pass): void {
  for (const t of [...p.tasks.values()]) {
    if (isObservedTerminal(t) || !t.NodeID || neverDispatched(t)) continue;
    const loss = nodeLoss(p.nodes.get(t.NodeID));
    if (!loss) continue;
    if (loss === 'drained') {
      if (isLive(t)) p.desire(t, 'shutdown');
      continue;
    }
    const message =
      loss === 'down' ? `node ${t.NodeID} is down` : `node ${t.NodeID} was removed from the cluster`;
    const orphaned = { ...t.Status, State: 'orphaned' as const, Message: message, Timestamp: p.nowIso };
    if (isLive(t)) p.desire(t, 'shutdown', orphaned);
    else p.put({ ...t, Status: orphaned, UpdatedAt: p.nowIso });
  }
}

export function groupSlots(p: Pass, global: boolean, include: (t: Task) => boolean = () => true): SlotView[] {
  const byKey = new Map<string, SlotView>();
  for (const t of p.tasks.values()) {
    if (!include(t)) continue;
    const key = global
      ? (t.NodeID ?? `task:${t.ID}`)
      : t.Slot !== undefined
        ? String(t.Slot)
        : `task:${t.ID}`;
    let slot = byKey.get(key);
    if (!slot) {
      slot = { key, slot: global ? undefined : t.Slot, nodeId: global ? t.NodeID : undefined, tasks: [] };
      byKey.set(key, slot);
    }
    slot.tasks.push(t);
  }
  for (const s of byKey.values()) s.tasks.sort(byCreation);
  return [...byKey.values()];
}

export function liveOf(p: Pass, slot: SlotView): Task[] {
  return slot.tasks.map((t) => p.tasks.get(t.ID) ?? t).filter(isLive);
}

export function latestOf(p: Pass, slot: SlotView): Task | undefined {
  const last = slot.tasks[slot.tasks.length - 1];
  return last ? (p.tasks.get(last.ID) ?? last) : undefined;
}

/** The slot is taken by its restart policy: its last task ended by itself (restart pending or given up). */
function heldByRestartPolicy(p: Pass, slot: SlotView): boolean {
  const latest = latestOf(p, slot);
  return latest !== undefined && endedOnItsOwn(latest);
}

/** Keeps N slots, those with live tasks first (lowest numbers), and stops the live tasks of the rest. */
function keepReplicatedSlots(p: Pass, slots: readonly SlotView[], replicas: number): SlotView[] {
  const numbered = slots.filter((s) => s.slot !== undefined);
  const withLive = numbered.filter((s) => liveOf(p, s).length > 0).sort(compareSlots);
  const held = numbered
    .filter((s) => liveOf(p, s).length === 0 && heldByRestartPolicy(p, s))
    .sort(compareSlots);
  const kept = [...withLive, ...held].slice(0, replicas);
  const keptKeys = new Set(kept.map((s) => s.key));
  // Extra replicas stop highest slot first: the kept ones are the lowest.
  for (const s of slots) {
    if (keptKeys.has(s.key)) continue;
    for (const t of liveOf(p, s)) p.desire(t, 'shutdown');
  }
  const used = new Set(kept.map((s) => s.slot));
  for (const s of numbered) if (keptKeys.has(s.key)) used.add(s.slot);
  const bySlot = new Map(numbered.map((s) => [s.slot, s]));
  for (let n = 1; kept.length < replicas; n++) {
    if (used.has(n)) continue;
    // A free number may have history (a replica stopped earlier): reuse its slot view.
    kept.push(bySlot.get(n) ?? { key: String(n), slot: n, nodeId: undefined, tasks: [] });
    used.add(n);
  }
  return kept.sort(compareSlots);
}

/** A node that takes new tasks (paused and drained nodes keep or lose theirs, but get none). */
export function takesNewTasks(node: Node | undefined): boolean {
  return node?.Status.State === 'ready' && (node.Spec.Availability ?? 'active') === 'active';
}

/** One slot per node that may run the service; tasks on nodes that may not are stopped. */
function keepGlobalSlots(p: Pass, slots: readonly SlotView[]): SlotView[] {
  const spec = p.service.Spec.TaskTemplate;
  const byNode = new Map(slots.map((s) => [s.key, s]));
  const kept: SlotView[] = [];
  for (const node of p.nodes.values()) {
    const slot = byNode.get(node.ID) ?? { key: node.ID, slot: undefined, nodeId: node.ID, tasks: [] };
    if (nodeLoss(node) || !nodeSuitsSpec(node, spec)) continue;
    if (takesNewTasks(node) || liveOf(p, slot).length > 0 || heldByRestartPolicy(p, slot)) kept.push(slot);
  }
  const keptKeys = new Set(kept.map((s) => s.key));
  for (const s of slots) {
    if (keptKeys.has(s.key)) continue;
    for (const t of liveOf(p, s)) p.desire(t, 'shutdown');
  }
  return kept.sort(compareSlots);
}

export function createIn(
  p: Pass,
  slot: SlotView,
  desired: 'ready' | 'running' | 'complete',
  labels?: Record<string, string>,
  extra: Partial<Task> = {},
): Task {
  const where = slot.slot !== undefined ? { slot: slot.slot } : { nodeId: slot.nodeId ?? slot.key };
  const withLabels = labels && Object.keys(labels).length > 0 ? { Labels: labels } : {};
  const t = newTask(p.service, where, desired, p.deps, { ...extra, ...withLabels });
  p.create(t);
  slot.tasks.push(t);
  return t;
}

/** A slot without a live task gets one: new, or a restart per the restart policy. */
function fillSlot(p: Pass, slot: SlotView): void {
  if (liveOf(p, slot).length > 0) return;
  const latest = latestOf(p, slot);
  if (latest && endedOnItsOwn(latest)) {
    p.desire(latest, 'shutdown');
    const decision = decideRestart(latest, p.service, p.now);
    if (!decision.restart) return;
    const wait = decision.notBefore > p.now;
    createIn(p, slot, wait ? 'ready' : 'running', decision.labels);
    if (wait) wakeAtLeast(p.changes, decision.notBefore);
    return;
  }
  createIn(p, slot, 'running');
}

/**
 * A task waiting in desired state 'ready' (stop-first update, restart delay) starts
 * once every older task of its slot has stopped and the restart delay has passed.
 */
export function releaseWaitingTask(p: Pass, slot: SlotView, run: 'running' | 'complete'): void {
  const tasks = slot.tasks.map((t) => p.tasks.get(t.ID) ?? t);
  tasks.forEach((t, i) => {
    if (t.DesiredState !== 'ready' || isObservedTerminal(t)) return;
    const older = tasks.slice(0, i);
    const stillRunning = older.some(
      (o) => !isObservedTerminal(o) && !neverDispatched(o) && !(o.NodeID && nodeLoss(p.nodes.get(o.NodeID))),
    );
    if (stillRunning) return;
    const at = releaseTimeOf(older[older.length - 1], p.service, p.now);
    if (p.now < at) {
      wakeAtLeast(p.changes, at);
      return;
    }
    p.desire(t, run);
  });
}

/**
 * Once a slot's current-spec task runs, its other live tasks (start-first update)
 * stop; tasks that ended are marked as no longer wanted, so `service ps` reads right.
 */
function retireReplacedTasks(p: Pass, slot: SlotView): void {
  for (const t of slot.tasks) {
    const cur = p.tasks.get(t.ID) ?? t;
    if (isObservedTerminal(cur) && !isStopRequested(cur)) p.desire(cur, 'shutdown');
  }
  const live = liveOf(p, slot);
  if (live.length < 2) return;
  const keeper = [...live].reverse().find((t) => p.isCurrent(t) && isObservedRunning(t));
  if (!keeper) return;
  for (const t of live) if (t.ID !== keeper.ID) p.desire(t, 'shutdown');
}
