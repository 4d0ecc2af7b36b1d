// Where a job service's current run (its JobIteration) stands: still running, complete,
// or failed for good. The one judgement shared by the orchestrator's depends_on gate
// (a migration job gating its dependents' update) and the CLI's `--wait` (a job's
// rollout outcome). Pure.
//
// "Failed for good" must not be read in the moment between a task's failure and the
// orchestrator's decision to restart it: the orchestrator always answers a job task
// that ended by itself by setting its desired state to 'shutdown', in the same write
// as its replacement when there is one. So a failed task whose desired state is still
// 'complete' is undecided, and one with a later desired state and no live task in its
// slot will not be retried.
import type { Service, Task } from './model/index.js';
import { TERMINAL_TASK_STATES } from './model/index.js';

export type JobOutcome =
  | { state: 'running'; completed: number; total: number }
  | { state: 'completed'; completed: number; total: number }
  | { state: 'failed'; reason: string };

export function isJobService(service: Service): boolean {
  const m = service.Spec.Mode;
  return m?.ReplicatedJob !== undefined || m?.GlobalJob !== undefined;
}

/** The job's current run: tasks of other iterations do not count. */
export function jobIterationOf(service: Service): number {
  return service.JobStatus?.JobIteration.Index ?? 0;
}

function isLiveTask(t: Task): boolean {
  if (t.Status.State !== undefined && TERMINAL_TASK_STATES.has(t.Status.State)) return false;
  return t.DesiredState === 'complete' || t.DesiredState === 'running' || t.DesiredState === 'ready';
}

/** The outcome of a job service's current iteration from its tasks. */
export function jobOutcome(service: Service, tasks: readonly Task[]): JobOutcome {
  const iteration = jobIterationOf(service);
  const global = service.Spec.Mode?.GlobalJob !== undefined;
  const slots = new Map<string, Task[]>();
  for (const t of tasks) {
    if ((t.JobIteration?.Index ?? 0) !== iteration) continue;
    const key = global ? (t.NodeID ?? `task:${t.ID}`) : String(t.Slot ?? `task:${t.ID}`);
    slots.set(key, [...(slots.get(key) ?? []), t]);
  }
  let completed = 0;
  for (const [, ts] of slots) {
    if (ts.some((t) => t.Status.State === 'complete')) {
      completed++;
      continue;
    }
    if (ts.some(isLiveTask)) continue;
    const given = ts.find(
      (t) => (t.Status.State === 'failed' || t.Status.State === 'rejected') && t.DesiredState !== 'complete',
    );
    if (given) {
      const why = given.Status.Err ?? given.Status.State ?? 'failed';
      const code = given.Status.ContainerStatus?.ExitCode;
      const exit = code !== undefined && !why.includes(String(code)) ? ` (exit code ${code})` : '';
      return { state: 'failed', reason: `task ${given.ID}: ${why}${exit}` };
    }
  }
  const mode = service.Spec.Mode ?? {};
  const total = global
    ? Math.max(1, [...slots.values()].length)
    : (mode.ReplicatedJob?.TotalCompletions ?? Math.max(1, mode.ReplicatedJob?.MaxConcurrent ?? 1));
  const live = [...slots.values()].some((ts) => ts.some(isLiveTask));
  const done = completed >= total && !(global && live);
  return { state: done ? 'completed' : 'running', completed, total };
}
