// The CLI's client of a node's HTTP API (the Docker Engine API, swarm subset, plus skiff's
// exec and pull streams).
export { ApiClient, type ApiClientOptions } from './client.js';
export type { ExecBody } from './exec-protocol.js';
export type { PullMessage } from './pull-protocol.js';
