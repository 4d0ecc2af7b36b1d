// The CLI's client of a node's HTTP API (the Docker Engine API, swarm subset, plus skiff's
// exec and pull streams, whose wire contracts live in lib/).
export { ApiClient, type ApiClientOptions } from './client.js';
