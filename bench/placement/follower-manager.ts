// A follower manager of the placement benchmark: a Store over a RaftNode on loopback,
// the same whether it runs in the main thread or in a worker thread of its own.
import { RaftNode } from '../../manager/raft/index.js';
import { createAesGcmCipher, RaftReplicator, Store } from '../../manager/store/index.js';

export interface FollowerData {
  id: string;
  dataDir: string;
  peers: { id: string; addr: string }[];
  key: Uint8Array;
  /** Longer than the leader's, so the manager in the main thread is elected. */
  electionTicks: number;
}

export async function startFollowerManager(data: FollowerData): Promise<{ store: Store; raft: RaftNode }> {
  const store = new Store({ cipher: createAesGcmCipher(data.key) });
  const raft = await RaftNode.start({
    id: data.id,
    dataDir: data.dataDir,
    peers: data.peers,
    stateMachine: store.stateMachine,
    electionTicks: data.electionTicks,
  });
  store.setReplicator(new RaftReplicator(raft));
  return { store, raft };
}
