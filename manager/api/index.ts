// The Docker-compatible HTTP API of the manager (the Engine API's swarm subset).

export { STREAMED_BODY, unboundStreamedBody } from './body-timeout.js';
export {
  API_VERSION,
  type ApiContext,
  type ApiInfo,
  type ClusterTaskStats,
  type LocalNetworkPort,
  type LogQuery,
  type LogSource,
  MIN_API_VERSION,
  type NodeCounts,
  type TaskLogLine,
  type TaskStatsSource,
} from './context.js';
export { type EngineInfoInput, type EngineSwarmInfo, engineInfo, NO_COUNTS } from './engine-info.js';
export {
  type DockerEvent,
  EVENT_FILTERS,
  EventLog,
  eventMatches,
  type LocalEventSource,
  parseEventTime,
} from './events.js';
export { anyOf, type Filters, labelsMatch, parseFilters } from './filters.js';
export {
  callManager,
  type ForwardOptions,
  forwardExec,
  forwardToNodePeer,
  isForwarded,
  servedLocally,
} from './forward.js';
export { listenUnix } from './listen-unix.js';
export { createLockedApiServer } from './locked-server.js';
export { versionInfo } from './routes/system.js';
export { type ApiServerOptions, createApiServer, createBaseServer } from './server.js';
