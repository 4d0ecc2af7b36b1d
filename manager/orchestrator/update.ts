// The rolling update (and rollback) as a resumable state machine. All of its state
// lives in the Service (UpdateStatus, PreviousSpec) and in the tasks themselves
// (which spec each runs, when it was created, whether it runs), so a new leader
// picks an update up where the old one left it.
//
// A pass: (1) if the update is in progress, count failed tasks of this run and apply
// failure_action; (2) start an update when live tasks run an outdated spec;
// (3) replace up to `parallelism` outdated slots once the previous ones run (and,
// with a delay, once it has passed); (4) complete after the last one has run for
// `monitor`.

import type { Service, Task, UpdateConfig, UpdateStatus } from '../../lib/index.js';
import { endedOnItsOwn, isLive, isObservedRunning, statusTimeMs, timeMs, wakeAtLeast } from './model.js';
import type { Pass } from './pass.js';

export interface ResolvedUpdateConfig {
  parallelism: number;
  delayMs: number;
  failureAction: 'continue' | 'pause' | 'rollback';
  monitorMs: number;
  maxFailureRatio: number;
  order: 'stop-first' | 'start-first';
}

export function resolveUpdateConfig(c: UpdateConfig | undefined): ResolvedUpdateConfig {
  return {
    parallelism: c?.Parallelism ?? 1,
    delayMs: (c?.Delay ?? 0) / 1e6,
    failureAction: c?.FailureAction ?? 'pause',
    // Docker's engine sends a zero Monitor to swarmkit as unset, which then monitors for
    // its 5 s default: `monitor: 0s` does not mean "no monitor" there, nor here.
    monitorMs: (c?.Monitor || 5e9) / 1e6,
    maxFailureRatio: c?.MaxFailureRatio ?? 0,
    order: c?.Order ?? 'stop-first',
  };
}

export function isRollingBack(s: Service): boolean {
  const st = s.UpdateStatus?.State;
  return st === 'rollback_started' || st === 'rollback_paused';
}

export function isUpdateInProgress(s: Service): boolean {
  const st = s.UpdateStatus?.State;
  return st === 'updating' || st === 'rollback_started';
}

function isUpdatePaused(s: Service): boolean {
  const st = s.UpdateStatus?.State;
  return st === 'paused' || st === 'rollback_paused';
}

function configFor(s: Service): ResolvedUpdateConfig {
  return resolveUpdateConfig(isRollingBack(s) ? s.Spec.RollbackConfig : s.Spec.UpdateConfig);
}

/** Tasks this update run created: current spec, created since the run started. */
function runTasks(p: Pass): Task[] {
  const started = timeMs(p.service.UpdateStatus?.StartedAt, Number.POSITIVE_INFINITY);
  const out: Task[] = [];
  for (const t of p.tasks.values()) {
    if (timeMs(t.CreatedAt, 0) >= started && p.isCurrent(t)) out.push(t);
  }
  return out;
}

/**
 * Step 1: failures of this run's tasks before the update completes count against
 * max_failure_ratio; past it, failure_action decides. May swap the service's spec
 * for a rollback, which the rest of the pass then converges to.
 */
export function applyFailureAction(p: Pass, slotCount: number): void {
  const s = p.service;
  if (!isUpdateInProgress(s)) return;
  const cfg = configFor(s);
  if (cfg.failureAction === 'continue') return;
  const failed = runTasks(p)
    .filter(endedOnItsOwn)
    .sort((a, b) => statusTimeMs(a, 0) - statusTimeMs(b, 0));
  if (failed.length === 0 || failed.length / Math.max(1, slotCount) <= cfg.maxFailureRatio) return;
  const culprit = failed[0]!.ID;
  const rollingBack = s.UpdateStatus?.State === 'rollback_started';
  if (cfg.failureAction === 'rollback' && !rollingBack && s.PreviousSpec) {
    p.setService({
      ...s,
      Spec: s.PreviousSpec,
      PreviousSpec: undefined,
      UpdateStatus: {
        State: 'rollback_started',
        StartedAt: p.nowIso,
        Message: `update rolled back due to failure or early termination of task ${culprit}`,
      },
    });
    return;
  }
  // Never roll back a rollback: a failing rollback pauses.
  const status: UpdateStatus = rollingBack
    ? {
        ...s.UpdateStatus,
        State: 'rollback_paused',
        Message: `rollback paused due to failure or early termination of task ${culprit}`,
      }
    : {
        ...s.UpdateStatus,
        State: 'paused',
        Message: `update paused due to failure or early termination of task ${culprit}`,
      };
  p.setService({ ...s, UpdateStatus: status });
}

export interface SlotView {
  key: string;
  slot: number | undefined;
  nodeId: string | undefined;
  tasks: Task[];
}

/**
 * Steps 2–4 over the slots the service keeps. `replace` starts the new task of a
 * slot in the given desired state.
 */
export function advanceUpdate(
  p: Pass,
  slots: readonly SlotView[],
  replace: (slot: SlotView, desired: 'ready' | 'running') => void,
): void {
  const live = (slot: SlotView): Task[] => slot.tasks.map((t) => p.tasks.get(t.ID) ?? t).filter(isLive);
  const dirty: SlotView[] = [];
  let inflight = 0;
  for (const slot of slots) {
    const l = live(slot);
    const current = l.filter((t) => p.isCurrent(t));
    if (current.length === 0 && l.length > 0) dirty.push(slot);
    if (current.some((t) => !isObservedRunning(t))) inflight++;
  }

  let s = p.service;
  if (isUpdatePaused(s)) return;
  if (!isUpdateInProgress(s)) {
    if (dirty.length === 0) return;
    p.setService({
      ...s,
      UpdateStatus: { State: 'updating', StartedAt: p.nowIso, Message: 'update in progress' },
    });
    s = p.service;
  }
  const cfg = configFor(s);
  const started = timeMs(s.UpdateStatus?.StartedAt, 0);
  let lastRunningAt: number | undefined;
  for (const t of p.tasks.values()) {
    if (isLive(t) && isObservedRunning(t) && timeMs(t.CreatedAt, 0) >= started && p.isCurrent(t)) {
      lastRunningAt = Math.max(lastRunningAt ?? 0, statusTimeMs(t, p.now));
    }
  }

  if (dirty.length > 0) {
    const capacity = cfg.parallelism <= 0 ? dirty.length : cfg.parallelism - inflight;
    if (capacity <= 0) return;
    if (cfg.delayMs > 0 && lastRunningAt !== undefined && p.now < lastRunningAt + cfg.delayMs) {
      wakeAtLeast(p.changes, lastRunningAt + cfg.delayMs);
      return;
    }
    // Slots whose old task does not even run go first: replacing them costs nothing.
    const order = dirty
      .map((slot) => ({ slot, running: live(slot).some(isObservedRunning) }))
      .sort((a, b) => Number(a.running) - Number(b.running) || compareSlots(a.slot, b.slot));
    for (const { slot } of order.slice(0, capacity)) {
      if (cfg.order === 'start-first') {
        replace(slot, 'running');
      } else {
        for (const t of live(slot)) p.desire(t, 'shutdown');
        replace(slot, 'ready');
      }
    }
    return;
  }
  if (inflight > 0) return;
  const doneAt = lastRunningAt === undefined ? p.now : lastRunningAt + cfg.monitorMs;
  if (p.now < doneAt) {
    wakeAtLeast(p.changes, doneAt);
    return;
  }
  const rollback = s.UpdateStatus?.State === 'rollback_started';
  p.setService({
    ...s,
    UpdateStatus: {
      ...s.UpdateStatus,
      State: rollback ? 'rollback_completed' : 'completed',
      CompletedAt: p.nowIso,
      Message: rollback ? 'rollback completed' : 'update completed',
    },
  });
}

export function compareSlots(a: SlotView, b: SlotView): number {
  if (a.slot !== undefined && b.slot !== undefined) return a.slot - b.slot;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}
