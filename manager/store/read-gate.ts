// A manager answers reads from its own copy of the store. Right after it starts (a
// restart, a join, a promotion) that copy can lag the cluster's log by anything up to
// all of it: a newly promoted manager's `node ls` did not list the node itself. As etcd
// and swarmkit do, reads wait for a read barrier (raft ReadIndex: the leader confirms
// its commit index with a quorum, and this manager applies up to it), but once per
// start rather than once per read: after that, reads are served locally at once, as
// before (a follower may trail the leader by what is in flight; writes it forwards
// wait until they are applied here).
import { SkiffError } from '../../lib/index.js';

export interface ReadGateOptions {
  /**
   * Resolves once this manager has applied everything the leader had committed when it
   * was called (RaftNode.readBarrier); rejects when that cannot be confirmed now.
   */
  barrier: () => Promise<void>;
  /** The pause before another try after a failed barrier (default 1 s). */
  retryMs?: number;
  /** How long one read waits before it is refused (default 10 s). */
  waitMs?: number;
}

export class ReadGate {
  private isOpen = false;
  private closed = false;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private lastFailure = '';
  private failure: SkiffError | undefined;
  private readonly waiters = new Set<() => void>();
  private readonly retryMs: number;
  private readonly waitMs: number;
  private markOpened!: () => void;
  /** Resolves when the gate opens (never, once closed before). */
  readonly opened = new Promise<void>((resolve) => {
    this.markOpened = resolve;
  });

  /** Starts the barrier at once, so that the first read does not pay for it. */
  constructor(private readonly o: ReadGateOptions) {
    this.retryMs = o.retryMs ?? 1000;
    this.waitMs = o.waitMs ?? 10_000;
    this.attempt();
  }

  /** Reads see everything committed before this manager started serving. */
  get open(): boolean {
    return this.isOpen;
  }

  /**
   * Resolves at once when open, otherwise when it opens; rejects (unavailable) when it
   * has not opened within waitMs or the gate is closed.
   */
  wait(): Promise<void> {
    if (this.isOpen) return Promise.resolve();
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<void>((resolve, reject) => {
      const refuse = () => {
        this.waiters.delete(done);
        clearTimeout(timer);
        reject(
          new SkiffError(
            'unavailable',
            `this manager has not caught up with the cluster's log yet${this.lastFailure ? ` (${this.lastFailure})` : ''}`,
            { hint: 'retry in a moment, or ask another manager' },
          ),
        );
      };
      const done = () => {
        clearTimeout(timer);
        if (this.isOpen) resolve();
        else refuse();
      };
      const timer = setTimeout(refuse, this.waitMs);
      this.waiters.add(done);
    });
  }

  /** Stops trying; waiting reads are refused. */
  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    this.release();
  }

  /**
   * Shuts the gate for good: this manager's copy can no longer follow the cluster (its
   * raft stopped on a storage failure), so every read from now on is refused at once
   * rather than answered from a store that silently stopped moving.
   */
  fail(reason: string): void {
    this.failure = new SkiffError('unavailable', `this manager cannot serve reads: ${reason}`, {
      hint: 'ask another manager',
    });
    this.isOpen = false;
    this.close();
  }

  private attempt(): void {
    if (this.closed) return;
    this.o.barrier().then(
      () => {
        if (this.closed) return;
        this.isOpen = true;
        this.markOpened();
        this.release();
      },
      (e: unknown) => {
        if (this.closed) return;
        this.lastFailure = e instanceof Error ? e.message : String(e);
        this.retry = setTimeout(() => this.attempt(), this.retryMs);
      },
    );
  }

  private release(): void {
    const waiting = [...this.waiters];
    this.waiters.clear();
    for (const w of waiting) w();
  }
}
