import { readFile, rename, writeFile } from 'node:fs/promises';
import type { Logger } from '../../lib/index.js';
import { silentLogger } from '../../lib/index.js';
import type { Store } from './store.js';

/**
 * Persistence for a store that runs without raft (LocalReplicator): the whole state
 * as one snapshot file, rewritten atomically after changes (coalesced). Secret data
 * in it is sealed like in raft snapshots.
 */
export class SnapshotFile {
  private dirty = false;
  private writing: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly store: Store,
    private readonly file: string,
    private readonly log: Logger = silentLogger,
  ) {}

  /** Restores the store from the file if there is one, then keeps the file current. */
  async start(): Promise<void> {
    try {
      this.store.stateMachine.restore(await readFile(this.file));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    this.unsubscribe = this.store.subscribe(() => this.schedule());
  }

  /** Writes pending changes and stops following the store. */
  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.flush();
  }

  async flush(): Promise<void> {
    while (this.writing || this.dirty) {
      if (this.writing) await this.writing;
      else this.schedule();
    }
  }

  private schedule(): void {
    this.dirty = true;
    if (this.writing) return;
    this.writing = (async () => {
      while (this.dirty) {
        this.dirty = false;
        const tmp = `${this.file}.tmp`;
        try {
          await writeFile(tmp, this.store.state.snapshot(), { mode: 0o600 });
          await rename(tmp, this.file);
        } catch (err) {
          this.log.error({ err, file: this.file }, 'could not write the store snapshot');
        }
      }
    })().finally(() => {
      this.writing = undefined;
    });
  }
}
