// A single-member "log" for store tests: keeps every entry (so a second store can replay
// it byte for byte) and applies a copy of each proposal's bytes, as a log read back from
// disk would, optionally altered; hold() keeps proposals waiting in the log until
// release(), like a slow commit.
import type { LogEntry, Replicator, Store } from '../../../manager/store/index.js';

export class LogReplicator implements Replicator {
  readonly entries: LogEntry[] = [];
  private held: (() => void)[] | undefined;
  constructor(
    private readonly store: Store,
    private readonly alter: (b: Uint8Array) => Uint8Array = (b) => b,
  ) {}
  hold() {
    this.held = [];
  }
  release() {
    const h = this.held ?? [];
    this.held = undefined;
    for (const f of h) f();
  }
  async propose(data: Uint8Array) {
    const entry = { index: this.entries.length + 1, term: 1, data: this.alter(Uint8Array.from(data)) };
    this.entries.push(entry);
    if (this.held) await new Promise<void>((resolve) => this.held!.push(resolve));
    this.store.stateMachine.apply(entry);
    return { index: entry.index };
  }
  isLeader() {
    return true;
  }
  leaderAddr() {
    return undefined;
  }
  leaderId() {
    return undefined;
  }
}
