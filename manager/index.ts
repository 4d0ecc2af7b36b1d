// The manager's public surface: the Manager a node runs, and what nodes, tests and
// tools legitimately use of its parts (certificates and joining, the store, the
// dispatcher protocol's cluster answer, the API's types).

export {
  API_VERSION,
  type ApiContext,
  type ApiInfo,
  type ApiServerOptions,
  anyOf,
  createApiServer,
  createBaseServer,
  type DockerEvent,
  type EngineSwarmInfo,
  EVENT_FILTERS,
  engineInfo,
  eventMatches,
  type Filters,
  forwardExec,
  forwardToNodePeer,
  isForwarded,
  type LocalEventSource,
  type LocalNetworkPort,
  type LogQuery,
  type LogSource,
  labelsMatch,
  MIN_API_VERSION,
  NO_COUNTS,
  type NodeCounts,
  parseEventTime,
  parseFilters,
  STREAMED_BODY,
  type TaskLogLine,
  unboundStreamedBody,
  versionInfo,
} from './api/index.js';
export {
  BACKUP_FORMAT,
  type RestoreBackupOptions,
  type RestoredBackup,
  restoreBackup,
} from './backup/index.js';
export * from './ca/index.js';
export type { ClusterRegisterResponse } from './dispatcher/index.js';
export { managerAddrs } from './dispatcher/index.js';
export type { AcceptedJoin } from './identity/index.js';
export type { LeaderOptions } from './leader/index.js';
export { Manager, type ManagerDispatcherOptions, type ManagerOptions } from './manager.js';
export type { ManagerMetricsHooks, ManagerMetricsSnapshot } from './metrics-hooks.js';
export * from './store/index.js';
