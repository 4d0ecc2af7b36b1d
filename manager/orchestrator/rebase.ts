// A reconciler decides from the tasks as the leader read them; by the time its changes
// are written, other writers may have moved a task on (the scheduler assigned it, its
// agent reported progress, the allocator gave it addresses). This says what to write
// then: the decision over the task as it is now, or nothing when what the decision
// rested on has changed.

import type { Task } from '../../lib/index.js';
import { taskStateRank } from '../../lib/index.js';
import { isObservedTerminal, neverDispatched } from './model.js';

/**
 * The reconciler's update `proposed` of the task it read as `read`, over the task as it
 * is now (`cur`). Undefined when the decision is stale: the task changed node, desired
 * state, reached an agent or ended since it was read, so the service must be
 * reconciled again (writing it would, say, mark a task an agent now runs as "shut down
 * before it was scheduled" and take its node away, and the agent would never be told).
 */
export function rebaseTaskUpdate(read: Task, proposed: Task, cur: Task): Task | undefined {
  if (cur.Version.Index === read.Version.Index) return { ...proposed, Version: cur.Version };
  if (
    cur.NodeID !== read.NodeID ||
    cur.DesiredState !== read.DesiredState ||
    neverDispatched(cur) !== neverDispatched(read) ||
    isObservedTerminal(cur) !== isObservedTerminal(read)
  )
    return undefined;
  // Progress that decides nothing here: the reconciler's own changes (desired state, a
  // status it set) over the task as it is, keeping what the other writers wrote.
  const decidedStatus = proposed.Status !== read.Status;
  const status =
    decidedStatus && taskStateRank(proposed.Status.State ?? 'new') > taskStateRank(cur.Status.State ?? 'new')
      ? proposed.Status
      : cur.Status;
  return { ...cur, DesiredState: proposed.DesiredState, UpdatedAt: proposed.UpdatedAt, Status: status };
}

/**
 * Whether deleting a task the reconciler read as `read` (a dead task past the history
 * limit, or one it just stopped before any agent had it) still holds for the task as it
 * is now: it is the same, or it was and is dead on the same node. A task the scheduler
 * placed meanwhile is not deleted: its agent would never hear of it again.
 */
export function deletionHolds(read: Task, cur: Task): boolean {
  if (cur.Version.Index === read.Version.Index) return true;
  return isObservedTerminal(read) && isObservedTerminal(cur) && cur.NodeID === read.NodeID;
}
