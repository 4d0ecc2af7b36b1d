// The leader's view of one follower: how far it matches, what to send next, and flow control.

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** probe: one append in flight, wait for a response or a heartbeat before the next. */
  paused = false;
  pendingSnapshot = 0;
  recentActive = false;
  /** Heartbeat responses seen in replicate state without the match moving (lost appends). */
  stalls = 0;
  /** The follower's log end as its last heartbeat response gave it (0: not given). */
  heardIndex = 0;
  private inflight: number[] = [];
  private inflightHead = 0;

  constructor(next: number) {
    this.next = next;
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      this.next = Math.max(this.match + 1, this.pendingSnapshot + 1);
    } else {
      this.next = this.match + 1;
    }
    this.state = 'probe';
    this.paused = false;
    this.pendingSnapshot = 0;
    this.resetInflight();
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.next = this.match + 1;
    this.paused = false;
    this.pendingSnapshot = 0;
    this.resetInflight();
  }

  becomeSnapshot(index: number): void {
    this.state = 'snapshot';
    this.pendingSnapshot = index;
    this.resetInflight();
  }

  /** An ack up to `n`; false when it is stale. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.paused = false;
      this.stalls = 0;
    }
    if (this.next < n + 1) this.next = n + 1;
    return updated;
  }

  /** A rejection of the append after `rejected`; false when it is stale. */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    // A probe at the match point itself refused: the follower no longer holds what it
    // acknowledged (its state directory was wiped and it came back under the same ID, as a
    // promoted node whose manager start is retried does). Probing at the old match forever
    // would never reach it: nothing it holds is known any more.
    if (rejected <= this.match) this.match = 0;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1, 1);
    this.paused = false;
    return true;
  }

  isPaused(maxInflight: number): boolean {
    switch (this.state) {
      case 'probe':
        return this.paused;
      case 'replicate':
        return this.inflightCount() >= maxInflight;
      case 'snapshot':
        return true;
    }
  }

  addInflight(last: number): void {
    this.inflight.push(last);
  }

  freeInflightTo(n: number): void {
    while (this.inflightHead < this.inflight.length && (this.inflight[this.inflightHead] ?? 0) <= n)
      this.inflightHead++;
    if (this.inflightHead > 64 && this.inflightHead * 2 > this.inflight.length) {
      this.inflight = this.inflight.slice(this.inflightHead);
      this.inflightHead = 0;
    }
  }

  inflightCount(): number {
    return this.inflight.length - this.inflightHead;
  }

  private resetInflight(): void {
    this.inflight = [];
    this.inflightHead = 0;
  }
}
