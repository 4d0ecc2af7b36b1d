// The node agent's public surface: one namespace per part.

export * as build from './build/index.js';
export * as containers from './containers/index.js';
export {
  type ContainerUsage,
  type ImageUsage,
  imagesInUse,
  type NodeDiskUsage,
  nodeDiskUsage,
  type PruneOutcome,
  prunable,
  pruneImages,
  pruneNode,
} from './housekeeping.js';
export * as image from './image/index.js';
export * as network from './network/index.js';
export { NodeAgent, type NodeAgentOptions } from './node-agent.js';
export * as runtime from './runtime/index.js';
export * as snapshot from './snapshot/index.js';
export { readTaskLogs, type TaskLogEntry, type TaskLogQuery } from './task-logs.js';
export { readTaskStats } from './task-stats.js';
export * as volume from './volume/index.js';
export { GrpcDispatcherClient } from './worker/index.js';
