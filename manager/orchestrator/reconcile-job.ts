// Jobs: tasks that run to completion. A replicated job needs TotalCompletions
// successful tasks, at most MaxConcurrent at a time; a global job needs one per
// eligible node, nodes that join later included. Only the current JobIteration
// counts: re-running a job (a new iteration) stops what is left of the old one.

import type { Task } from '../../lib/index.js';
import { nodeSuitsSpec } from '../constraints/index.js';
import { trimHistory } from './history.js';
import { type Changes, type Deps, endedOnItsOwn, isLive, type ServiceInput, wakeAtLeast } from './model.js';
import { Pass } from './pass.js';
import {
  createIn,
  groupSlots,
  latestOf,
  liveOf,
  nodeLoss,
  releaseWaitingTask,
  stopTasksOnLostNodes,
  takesNewTasks,
} from './reconcile-service.js';
import { decideRestart } from './restart.js';
import type { SlotView } from './update.js';

export function reconcileJob(input: ServiceInput, deps: Deps): Changes {
  const p = new Pass(input.service, input.tasks, input.nodes, deps);
  const mode = input.service.Spec.Mode ?? {};
  const iteration = input.service.JobStatus?.JobIteration.Index ?? 0;
  const inIteration = (t: Task): boolean => (t.JobIteration?.Index ?? 0) === iteration;

  stopTasksOnLostNodes(p);
  for (const t of [...p.tasks.values()]) if (!inIteration(t) && isLive(t)) p.desire(t, 'shutdown');

  const global = mode.GlobalJob !== undefined;
  const slots = groupSlots(p, global, inIteration);
  const isDone = (slot: SlotView): boolean =>
    slot.tasks.some((t) => (p.tasks.get(t.ID) ?? t).Status.State === 'complete');
  const extra: Partial<Task> = { JobIteration: { Index: iteration } };

  /** Whether the slot wants a new task, and if it is a restart, with which history labels. */
  const needs = (slot: SlotView): { labels?: Record<string, string>; notBefore?: number } | undefined => {
    if (isDone(slot) || liveOf(p, slot).length > 0) return undefined;
    const latest = latestOf(p, slot);
    if (!latest || !endedOnItsOwn(latest)) return {};
    p.desire(latest, 'shutdown');
    const d = decideRestart(latest, p.service, p.now);
    return d.restart ? { labels: d.labels, notBefore: d.notBefore } : undefined;
  };
  const start = (slot: SlotView, need: { labels?: Record<string, string>; notBefore?: number }): void => {
    const wait = need.notBefore !== undefined && need.notBefore > p.now;
    createIn(p, slot, wait ? 'ready' : 'complete', need.labels, extra);
    if (wait) wakeAtLeast(p.changes, need.notBefore);
  };

  let kept: SlotView[];
  if (global) {
    const byNode = new Map(slots.map((s) => [s.key, s]));
    kept = [];
    for (const node of p.nodes.values()) {
      if (nodeLoss(node) || !nodeSuitsSpec(node, input.service.Spec.TaskTemplate)) continue;
      const slot = byNode.get(node.ID) ?? { key: node.ID, slot: undefined, nodeId: node.ID, tasks: [] };
      const active = takesNewTasks(node);
      if (!active && slot.tasks.length === 0) continue;
      kept.push(slot);
      const need = active ? needs(slot) : undefined;
      if (need) start(slot, need);
    }
  } else {
    const maxConcurrent = Math.max(1, mode.ReplicatedJob?.MaxConcurrent ?? 1);
    const total = mode.ReplicatedJob?.TotalCompletions ?? maxConcurrent;
    const bySlot = new Map(slots.map((s) => [s.slot, s]));
    kept = [];
    for (let n = 1; n <= total; n++)
      kept.push(bySlot.get(n) ?? { key: String(n), slot: n, nodeId: undefined, tasks: [] });
    let running = kept.filter((s) => liveOf(p, s).length > 0).length;
    for (const slot of kept) {
      if (running >= maxConcurrent) break;
      const need = needs(slot);
      if (!need) continue;
      start(slot, need);
      running++;
    }
  }
  for (const slot of kept) releaseWaitingTask(p, slot, 'complete');
  const completed = (id: string): boolean => {
    const t = p.tasks.get(id);
    return t !== undefined && inIteration(t) && t.Status.State === 'complete';
  };
  const allSlots = groupSlots(p, global, () => true);
  trimHistory(
    p,
    allSlots,
    new Set(kept.map((s) => s.key)),
    input.cluster?.taskHistoryRetentionLimit,
    completed,
  );
  return p.finish();
}
