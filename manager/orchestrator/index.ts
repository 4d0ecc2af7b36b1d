// The orchestrator: pure reconcilers from desired state (services, nodes) and
// observed state (tasks) to store changes. The leader's driver calls them on store
// events and timers and commits what they return.

export {
  type Dependency,
  type DependencyCondition,
  type DependencyGraph,
  type StackServiceState,
  type StartGate,
  startGates,
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
export { reconcileService } from './reconcile.js';
export { RESTART_HISTORY_LABEL } from './restart.js';
export { applyServiceUpdate, rollbackService } from './service-ops.js';
export { resolveUpdateConfig } from './update.js';
