// A control loop that runs one pass at a time: kicks during a pass coalesce into one
// more pass after it. Each pass reads the store and writes its decisions in a batch.
import type { Logger } from '../../lib/index.js';
import { describeError, isSkiffError } from '../../lib/index.js';
import type { Store, Transaction } from '../store/index.js';

export class ControlLoop {
  private running = false;
  private again = false;
  private stopped = false;
  private idle: Promise<void> = Promise.resolve();

  constructor(
    private readonly name: string,
    private readonly pass: () => Promise<void>,
    private readonly log: Logger,
  ) {}

  /** Asks for a pass soon (after the current one, if any). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    this.idle = this.runPasses();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.idle;
  }

  /** Resolves once no pass is running or queued; for tests. */
  async settled(): Promise<void> {
    while (this.running) await this.idle;
  }

  private async runPasses(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.pass();
      } catch (e) {
        // A conflict means another writer got there first: the next pass sees its write.
        if (isSkiffError(e) && e.code === 'conflict') this.again = true;
        else if (isSkiffError(e) && (e.code === 'not_leader' || e.code === 'unavailable')) {
          // Not leading (for now): no more passes until the next kick. Stopping for good
          // would leave the loops dead if leadership comes back before anyone stops them.
          this.again = false;
          this.log.debug({ loop: this.name, err: describeError(e) }, 'control loop pass skipped');
        } else this.log.error({ loop: this.name, err: describeError(e) }, 'control loop pass failed');
      }
    } while (this.again && !this.stopped);
    this.running = false;
  }
}

/** Runs a store transaction, retrying a few times when a concurrent write conflicts. */
export async function updateWithRetry<T>(store: Store, fn: (tx: Transaction) => T, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      // The loops' writes are checked once, when applied (a conflict comes back from there).
      return await store.update(fn, { precheck: false });
    } catch (e) {
      if (i >= attempts || !isSkiffError(e) || e.code !== 'conflict') throw e;
    }
  }
}

/**
 * Most writes of one pass in one proposal: big enough that a pass over 100,000 tasks
 * makes ~100 proposals, small enough (~0.5 MB) that raft ships them without stalling,
 * and the next loop starts on the first ones while the rest are still committing.
 */
export const PROPOSAL_BATCH = 1000;

/**
 * Synchronous work a pass does before it lets timers and I/O run (raft ticks, heartbeats,
 * peers' answers): well inside an election timeout, and long enough that a pass of
 * 100,000 tasks is not cut into slivers that other loops would each take a pass over.
 */
export const PASS_SLICE_MS = 100;

/** Hands the event loop a turn once a pass has run PASS_SLICE_MS since its last turn. */
export class PassClock {
  private since = performance.now();

  async maybeYield(): Promise<void> {
    if (performance.now() - this.since < PASS_SLICE_MS) return;
    await new Promise((resolve) => setImmediate(resolve));
    this.since = performance.now();
  }
}

/**
 * Commits `write(tx, item)` for every item, `size` items per proposal, all proposals in
 * flight at once (items must touch disjoint objects). Rejects with the first failure
 * once every proposal has settled. Building them hands the event loop a turn every
 * PASS_SLICE_MS: a million tasks' proposals built in one turn held the leader's raft
 * ticks and heartbeats for minutes.
 */
export async function updateInBatches<T>(
  store: Store,
  items: readonly T[],
  write: (tx: Transaction, item: T) => void,
  size = PROPOSAL_BATCH,
): Promise<void> {
  // Settled as they go, so a failure while later batches are being built is not unhandled.
  const outcomes: Promise<{ failed: boolean; reason?: unknown }>[] = [];
  const clock = new PassClock();
  for (let i = 0; i < items.length; i += size) {
    await clock.maybeYield();
    const batch = items.slice(i, i + size);
    outcomes.push(
      updateWithRetry(store, (tx) => {
        for (const item of batch) write(tx, item);
      }).then(
        () => ({ failed: false }),
        (reason: unknown) => ({ failed: true, reason }),
      ),
    );
  }
  const failed = (await Promise.all(outcomes)).find((r) => r.failed);
  if (failed) throw failed.reason;
}
