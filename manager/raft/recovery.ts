// Disaster recovery on a raft data directory, offline (no RaftNode runs on it): the
// committed state a surviving member holds, and a fresh directory that makes one node
// the only voter of a new group from a snapshot (a restored backup, or
// --force-new-cluster). Both go through DiskStorage, so whatever it does to what it
// writes (checksums, encryption) applies here too.

import { RaftError } from './errors.js';
import type { StateMachine } from './node.js';
import { AtRestCipher, type DataKeyRing } from './storage/at-rest.js';
import { DiskStorage } from './storage/disk.js';

/** The storage options for a directory sealed with `dataKey` (RaftNode's `dataKey`). */
function sealedWith(dataKey: Uint8Array | DataKeyRing | undefined) {
  return dataKey ? { cipher: new AtRestCipher(dataKey) } : {};
}

export interface CommittedState {
  /** The last committed index the directory knows, and its entry's term. */
  index: number;
  term: number;
  /** The highest term the node had seen (the new group starts from it). */
  hardTerm: number;
}

/**
 * Replays what `dir` holds up to its commit index into `sm` (its newest snapshot, then
 * the committed application entries; entries past the commit index are dropped, as etcd
 * and Swarm do on a forced new cluster). Null when the directory holds no raft state.
 */
export async function replayCommitted(
  dir: string,
  sm: StateMachine,
  dataKey?: Uint8Array | DataKeyRing,
): Promise<CommittedState | null> {
  const { storage, state } = await DiskStorage.open(dir, sealedWith(dataKey));
  try {
    if (!state) return null;
    const { snapshot, entries, hardState } = state;
    if (snapshot.meta.index > 0) sm.restore(snapshot.data);
    let at = { index: snapshot.meta.index, term: snapshot.meta.term };
    for (const e of entries) {
      if (e.index > hardState.commit) break;
      if (e.type === 'normal' && e.data.length > 0) sm.apply({ index: e.index, term: e.term, data: e.data });
      at = { index: e.index, term: e.term };
    }
    return { ...at, hardTerm: Math.max(hardState.term, at.term) };
  } finally {
    await storage.close();
  }
}

/**
 * Writes a new raft state into the empty directory `dir`: `snapshot` at (index, term)
 * with `id` as the sole voter, its commit at the snapshot. Started on it, the node elects
 * itself and serves the snapshot's state as a new single-member group.
 */
export async function seedSingleVoter(
  dir: string,
  o: {
    id: string;
    addr: string;
    index: number;
    term: number;
    data: Uint8Array;
    dataKey?: Uint8Array | DataKeyRing;
  },
): Promise<void> {
  if (o.index < 1 || o.term < 1) {
    throw new RaftError(
      'invalid_argument',
      `a seeded snapshot needs index and term ≥ 1 (got ${o.index}/${o.term})`,
    );
  }
  const { storage, state } = await DiskStorage.open(dir, sealedWith(o.dataKey));
  try {
    if (state) throw new RaftError('invalid_argument', `${dir} already holds raft state; it must be empty`);
    await storage.save({ term: o.term, vote: o.id, commit: o.index }, [], {
      meta: {
        index: o.index,
        term: o.term,
        conf: { voters: [o.id], learners: [], addrs: { [o.id]: o.addr } },
      },
      data: o.data,
    });
  } finally {
    await storage.close();
  }
}
