// The node's durable state: WAL (hard state + entries) and snapshots under one directory.

import { chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { RaftError } from '../errors.js';
import type { Entry, HardState, PersistentState, Snapshot } from '../types.js';
import type { AtRestCipher } from './at-rest.js';
import { SnapshotStore } from './snapshots.js';
import { Wal, type WalOptions } from './wal.js';

export class DiskStorage {
  private constructor(
    private readonly wal: Wal,
    private readonly snaps: SnapshotStore,
  ) {}

  /** Opens (creating if needed) `dir`; `state` is null for a fresh directory. */
  static async open(
    dir: string,
    opts: WalOptions = {},
  ): Promise<{ storage: DiskStorage; state: PersistentState | null }> {
    // Only root reads the cluster's state (corrected when an older skiff left it wider).
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await chmod(dir, 0o700);
    const snaps = new SnapshotStore(join(dir, 'snap'), 2, opts.cipher);
    const snapshot = await snaps.loadLatest();
    const { wal, contents } = await Wal.open(join(dir, 'wal'), opts);
    const storage = new DiskStorage(wal, snaps);
    if (!snapshot && !contents.hardState && contents.entries.length === 0) return { storage, state: null };
    const snap: Snapshot = snapshot ?? {
      meta: { index: 0, term: 0, conf: { voters: [], learners: [], addrs: {} } },
      data: new Uint8Array(0),
    };
    let entries = contents.entries.filter((e) => e.index > snap.meta.index);
    const atSnap = contents.entries.find((e) => e.index === snap.meta.index);
    // A snapshot from the leader replaced a log that disagreed with it: what followed is void.
    if (atSnap && atSnap.term !== snap.meta.term) entries = [];
    if (entries.length && entries[0]!.index !== snap.meta.index + 1) {
      throw new RaftError(
        'wal_corrupt',
        `the WAL in ${dir} starts at index ${entries[0]!.index} but the newest snapshot ends at ${snap.meta.index}: entries are missing. Re-add this node to the cluster with an empty data directory.`,
      );
    }
    const hardState: HardState = contents.hardState ?? {
      term: snap.meta.term,
      vote: '',
      commit: snap.meta.index,
    };
    const last = entries.at(-1)?.index ?? snap.meta.index;
    if (hardState.commit > last)
      hardState.commit = Math.max(snap.meta.index, Math.min(hardState.commit, last));
    return { storage, state: { hardState, snapshot: snap, entries } };
  }

  /** Durably records a Ready's snapshot, entries and hard state, in that order. */
  async save(hs: HardState | null, entries: Entry[], snapshot: Snapshot | null): Promise<void> {
    if (snapshot) await this.snaps.save(snapshot);
    await this.wal.save(hs, entries);
  }

  /**
   * Seals what is written from now on with `cipher`'s current key. What the older keys
   * sealed goes with the next snapshot that covers it (see keysInUse); until then
   * `cipher` must hold them too.
   */
  rekey(cipher: AtRestCipher): void {
    this.wal.rekey(cipher);
    this.snaps.rekey(cipher);
  }

  /** The data keys (CLEAR, -1, for data in clear) that something on disk is still sealed with. */
  keysInUse(): Set<number> {
    return new Set([...this.wal.keysInUse(), ...this.snaps.keysInUse()]);
  }

  /** Records a locally taken snapshot and releases WAL segments it covers. */
  async saveSnapshot(snapshot: Snapshot): Promise<void> {
    await this.snaps.save(snapshot);
    await this.wal.releaseTo(snapshot.meta.index);
  }

  walSegments(): number {
    return this.wal.segmentCount();
  }

  async close(): Promise<void> {
    await this.wal.close();
  }
}
