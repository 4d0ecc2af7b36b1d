// Shared foundations every component may import: the Docker-API-shaped object
// model, typed errors, durations and the logger. Nothing here does I/O.
// The dispatcher's gRPC transport is a second entry point, `lib/dispatch-grpc.ts`, kept
// apart so that processes which never talk gRPC do not load @grpc/grpc-js.

export * from './dispatch.js';
export * from './duration.js';
export * from './errors.js';
export * from './ingress.js';
export * from './json-equal.js';
export * from './log.js';
export * from './model/swarm.js';
export * from './registry-auth.js';
export * from './task-dns.js';
