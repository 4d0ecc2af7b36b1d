// manager/raft: consensus. Self-contained (imports nothing else from skiff) so it can be extracted.
// RaftCore is the pure state machine; RaftNode runs it with a WAL, snapshots and gRPC transport.
export { applyConfChangeTo, decodeConfChange, encodeConfChange } from './conf.js';
export { RaftCore, type RaftCoreOptions } from './core.js';
export { isRaftError, RaftError, type RaftErrorCode } from './errors.js';
export { RaftNode, type RaftNodeOptions, type RaftStatus, type StateMachine } from './node.js';
export { seededRandom } from './prng.js';
export { type CommittedState, replayCommitted, seedSingleVoter } from './recovery.js';
export { AtRestCipher, type DataKey, type DataKeyRing, sealedKeyId } from './storage/at-rest.js';
export { DiskStorage } from './storage/disk.js';
export { SnapshotStore } from './storage/snapshots.js';
export { Wal, type WalContents, type WalOptions } from './storage/wal.js';
export {
  GrpcTransport,
  MAX_SNAPSHOT_BYTES,
  RAFT_FORMAT,
  RAFT_FORMAT_KEY,
  type RaftLogger,
  type TransportOptions,
} from './transport/grpc.js';
export type * from './types.js';
