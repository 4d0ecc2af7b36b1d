export {
  imagePort,
  NetworkViews,
  type NetworkViewTarget,
  networkPort,
  networksOfTask,
  type RoutingMeshTarget,
  RoutingMeshViews,
  rootfsPort,
  runtimePort,
} from './adapters/index.js';
export { GrpcDispatcherClient } from './grpc-dispatcher-client.js';
export type * from './ports.js';
export { AgentSession, type AgentSessionOptions } from './session.js';
export { containerLabels, containerName } from './task-runner.js';
export { type TaskStatusUpdate, Worker, type WorkerOptions } from './worker.js';
