// How the worker words task states, in Docker's own phrases where Docker has one, so
// `docker service ps` and `skiff service ps` read the same.
import type { TaskState, TaskStatus } from '../../lib/index.js';
import { taskStateRank } from '../../lib/index.js';

export function statusOf(
  state: TaskState,
  message: string,
  now: Date,
  extra: Partial<TaskStatus> = {},
): TaskStatus {
  return { Timestamp: now.toISOString(), State: state, Message: message, ...extra };
}

/** Whether `next` may follow `current`: tasks only move forward. */
export function movesForward(current: TaskState | undefined, next: TaskState): boolean {
  return current === undefined || taskStateRank(next) > taskStateRank(current);
}

export function exitError(exitCode: number, oomKilled: boolean): string {
  return oomKilled ? `task: non-zero exit (${exitCode}): OOM killed` : `task: non-zero exit (${exitCode})`;
}
