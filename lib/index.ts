// Shared foundations every component may import: the Docker-API-shaped object
// model, typed errors, durations and the logger. Nothing here does I/O.
// The dispatcher protocol's gRPC wire form is here too (`dispatch-wire.ts`), with grpc-js as
// types only: its server and client, which load grpc-js, live in manager/ and agent/.

export * from './bounded-step.js';
export * from './dispatch.js';
export * from './dispatch-wire.js';
export * from './duration.js';
export * from './errors.js';
export * from './exec-protocol.js';
export * from './frames.js';
export * from './ingress.js';
export * from './json-equal.js';
export * from './log.js';
export * from './model/index.js';
export * from './pull-protocol.js';
export * from './task-dns.js';
