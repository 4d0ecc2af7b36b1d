// The key a manager's raft log and snapshots are sealed with on disk (swarmkit's DEK):
// derived from the store key, so it is locked with it when autolock is on and a stolen
// raft directory alone reads as noise; per node, so no two managers' files share a key.
import { hkdfSync } from 'node:crypto';

export function raftDataKey(secretsKey: Uint8Array, nodeId: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', secretsKey, nodeId, 'skiff raft data at rest v1', 32));
}
