// The Docker-compatible HTTP API of the manager (the Engine API's swarm subset).

export {
  API_VERSION,
  type ApiContext,
  type ApiInfo,
  type LogQuery,
  type LogSource,
  MIN_API_VERSION,
  type TaskLogLine,
} from './context.js';
export { type ForwardOptions, servedLocally } from './forward.js';
export { type ApiServerOptions, createApiServer, createBaseServer } from './server.js';
export {
  type AcceptedJoin,
  listenUnix,
  type RunningManager,
  type StartManagerOptions,
  startManager,
} from './start-manager.js';
