export { Dispatcher, type DispatcherOptions, type DispatcherStats } from './dispatcher.js';
export { addDispatcherService, certificateIdentity, type PeerIdentity } from './grpc-server.js';
export {
  type ClusterRegisterResponse,
  LeaderDispatcher,
  type LeaderDispatcherOptions,
  managerAddrs,
} from './leader-dispatcher.js';
export { type BrokeredLogLine, LogBroker, type LogRequest, MAX_BUFFERED_LOG_LINES } from './log-broker.js';
export {
  indexNetworks,
  meshOfNode,
  type NetworkIndex,
  type NetworkState,
  networksOfNode,
} from './network-views.js';
export { type NodeTaskStats, StatsBroker } from './stats-broker.js';
export { storeDispatcherPort } from './store-adapter.js';
export type { DispatcherStorePort, TaskChange } from './store-port.js';
