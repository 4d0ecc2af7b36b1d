// The orchestrator: pure reconcilers from desired state (services, nodes) and
// observed state (tasks) to store changes. The leader's driver calls them on store
// events and timers and commits what they return.
//
// What the reconcilers expect from the rest of the system:
// - Desired state 'ready': the task may be placed and prepared but not started yet
//   (a stop-first update waiting for its predecessor, a restart waiting out its
//   delay). The reconciler moves it to 'running' when it may start.
// - Job tasks want 'complete' (as in Docker): run to completion, not a stop request.
// - The agent reports 'running' for a task with a health check only once it is
//   healthy, 'failed' when it turns unhealthy, and 'shutdown' for a task it stopped
//   because its desired state asked it to.
// - Task timestamps (Status.Timestamp, CreatedAt) and Deps.now come from clocks close
//   enough that restart delays, update delays and monitor periods read right.

export {
  type Dependency,
  type DependencyGraph,
  type StackServiceState,
  type StartGate,
  startGates,
  type UpdateGate,
  updateGate,
  validateDependencyGraph,
} from './depends-on.js';
export {
  type Changes,
  type ClusterSettings,
  DEFAULT_TASK_HISTORY,
  type Deps,
  isLive,
  type ServiceInput,
  withDesiredState,
} from './model.js';
export { deletionHolds, rebaseTaskUpdate } from './rebase.js';
export { reconcileService } from './reconcile.js';
export { RESTART_HISTORY_LABEL } from './restart.js';
export { applyServiceUpdate, holdBackUpdate, newJobStatus, rollbackService } from './service-ops.js';
export { resolveUpdateConfig } from './update.js';
