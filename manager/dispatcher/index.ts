export { Dispatcher, type DispatcherOptions } from './dispatcher.js';
export { addDispatcherService, certificateIdentity, type PeerIdentity } from './grpc-server.js';
export { storeDispatcherPort, VXLAN_OPTION } from './store-adapter.js';
export type { DispatcherStorePort, TaskChange } from './store-port.js';
