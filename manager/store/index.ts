// The manager's replicated cluster state: typed tables of Docker-API-shaped objects,
// batched transactional writes through a Replicator (raft), watches, encrypted secrets.

export { createAesGcmCipher, loadOrCreateSecretKey, type SecretCipher } from './cipher.js';
export { looksLikeObjectId, newObjectId } from './ids.js';
export {
  DATA_KEY_ROTATION_FIELD,
  dataKeyRotation,
  isSecretsKeyLocked,
  lockSecretsKey,
  newUnlockKey,
  sealedUnlockKey,
  UNLOCK_KEY_FIELD,
  unlockSecretsKey,
  unlockSecretsKeyFile,
} from './key-lock.js';
export {
  NETWORK_KEY_ROTATION_MS,
  NETWORK_KEYS_FIELD,
  type NetworkKeyRing,
  networkKeysDueAt,
  networkKeysView,
  newNetworkKeyRing,
  openNetworkKeys,
  rotateNetworkKeys,
  withNetworkKeys,
} from './network-keys.js';
export { type RaftLike, RaftReplicator } from './raft-replicator.js';
export { ReadGate, type ReadGateOptions } from './read-gate.js';
export { LocalReplicator, type Replicator } from './replicator.js';
export type { LogEntry, StateMachine } from './state.js';
export { Store, type StoreOptions, type StoreView, type TaskQuery } from './store.js';
export {
  type EventKind,
  type NewObject,
  type StoredObject,
  type StoreEvent,
  TABLE_NAMES,
  type TableName,
  type Tables,
} from './tables.js';
export type { Transaction } from './transaction.js';
export type { Watch, WatchFilter } from './watch.js';
