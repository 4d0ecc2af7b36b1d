export { Dispatcher, type DispatcherOptions } from './dispatcher.js';
export type { DispatcherStorePort, TaskChange } from './store-port.js';
