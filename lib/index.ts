// Shared foundations every component may import: the Docker-API-shaped object
// model, typed errors, durations and the logger. Nothing here does I/O.

export * from './dispatch.js';
export * from './dispatch-grpc.js';
export * from './duration.js';
export * from './errors.js';
export * from './log.js';
export * from './model/swarm.js';
