// Shared foundations every component may import: the Docker-API-shaped object
// model, the contracts between components (label names, the depends_on codec, the
// network attachment, the dispatcher protocol and its gRPC wire form, exec and pull
// streams), typed errors, durations and the logger. Nothing here does I/O: grpc-js is
// imported for types only; the dispatcher's server and client live in manager/ and agent/.

export * from './bounded-step.js';
export * from './build-protocol.js';
export * from './byte-size.js';
export * from './compose-source.js';
export * from './container-security.js';
export * from './depends-on.js';
export * from './dispatch.js';
export * from './dispatch-wire.js';
export * from './duration.js';
export * from './encrypted-overlays.js';
export * from './engine-containers.js';
export * from './errors.js';
export * from './exec-protocol.js';
export * from './frames.js';
export * from './image-protocol.js';
export * from './ingress.js';
export * from './interleave.js';
export * from './job-outcome.js';
export * from './json-equal.js';
export * from './labels.js';
export * from './lazy.js';
export * from './log.js';
export * from './model/index.js';
export * from './network-attachment.js';
export * from './node-certificate.js';
export * from './node-peer.js';
export * from './pull-protocol.js';
export * from './registry-auth.js';
export * from './rollouts.js';
export * from './state-files.js';
export type * from './stats-protocol.js';
export type * from './system-protocol.js';
export * from './task-dns.js';
export * from './task-spec-match.js';
