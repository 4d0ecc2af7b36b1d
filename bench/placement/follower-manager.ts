// A follower manager of the placement benchmark: a Store over a RaftNode on loopback,
// the same whether it runs in the main thread or in a worker thread of its own.
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
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

export interface FollowerManager {
  store: Store;
  raft: RaftNode;
}

/** What restarting a follower from a fresh snapshot of its state took. */
export interface RestartFigures {
  snapshotIndex: number;
  snapshotBytes: number;
  /** Taking and writing the snapshot (fsynced). */
  writeMs: number;
  /** From the start of the restarted manager to its store holding the snapshot's state. */
  restartMs: number;
  tasks: number;
}

/**
 * Snapshots `m` now, stops it and starts it again from its data directory: the
 * restarted manager reads that snapshot (and the log after it) back.
 */
export async function restartFromSnapshot(
  m: FollowerManager,
  data: FollowerData,
): Promise<{ manager: FollowerManager; figures: RestartFigures }> {
  const t0 = performance.now();
  const snap = await m.raft.snapshotNow();
  const writeMs = performance.now() - t0;
  await m.raft.stop();
  const t1 = performance.now();
  const manager = await startFollowerManager(data);
  while (manager.store.appliedIndex < snap.index) await new Promise((r) => setTimeout(r, 5));
  const restartMs = performance.now() - t1;
  return {
    manager,
    figures: {
      snapshotIndex: snap.index,
      snapshotBytes: snap.bytes,
      writeMs,
      restartMs,
      tasks: manager.store.listTasks().length,
    },
  };
}

export async function startFollowerManager(data: FollowerData): Promise<FollowerManager> {
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

/** A full garbage collection, so heap figures count what is live (the bench runs without --expose-gc). */
export function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

/**
 * CPU time (user + system, ms) of the calling thread alone, from /proc/thread-self/stat
 * (10 ms resolution): a manager's own share when the three run as threads of one process.
 */
export function threadCpuMs(): number {
  const stat = readFileSync('/proc/thread-self/stat', 'utf8');
  // Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}
