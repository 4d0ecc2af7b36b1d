// A hand-driven network of RaftCores for rule-by-rule tests: messages wait in a queue until
// the test delivers (or drops, or edits) them, so each scenario is exact.

import { RaftCore, type RaftCoreOptions } from '../../../../manager/raft/core.js';
import { seededRandom } from '../../../../manager/raft/prng.js';
import type { Entry, Message, PersistentState, ReadState } from '../../../../manager/raft/types.js';

export class Net {
  readonly cores = new Map<string, RaftCore>();
  queue: Message[] = [];
  readonly applied = new Map<string, Entry[]>();
  readonly reads = new Map<string, ReadState[]>();
  readonly down = new Set<string>();

  constructor(
    ids: string[],
    opts: Partial<RaftCoreOptions> & { states?: Record<string, PersistentState> } = {},
  ) {
    const boot = RaftCore.bootstrapState(ids.map((id) => ({ id })));
    ids.forEach((id, i) => {
      const core = new RaftCore({
        id,
        state: opts.states?.[id] ?? boot,
        random: seededRandom(i + 1),
        electionTicks: 10,
        heartbeatTicks: 1,
        ...opts,
      });
      this.cores.set(id, core);
      this.applied.set(id, []);
      this.reads.set(id, []);
    });
    this.flushReady();
  }

  core(id: string): RaftCore {
    const c = this.cores.get(id);
    if (!c) throw new Error(`no node ${id}`);
    return c;
  }

  /** Runs every node's ready/advance loop, queueing the messages. */
  flushReady(): void {
    for (const [id, core] of this.cores) {
      if (this.down.has(id)) continue;
      while (core.hasReady()) {
        const rd = core.ready();
        this.queue.push(...rd.messages);
        this.applied.get(id)!.push(...rd.committedEntries);
        this.reads.get(id)!.push(...rd.readStates);
        core.advance(rd);
      }
    }
  }

  /** Delivers queued messages until the network is quiet; `filter` may drop or rewrite. */
  settle(filter: (m: Message) => Message | null = (m) => m, maxRounds = 1000): void {
    for (let round = 0; round < maxRounds; round++) {
      this.flushReady();
      if (this.queue.length === 0) return;
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) {
        if (this.down.has(m.to) || this.down.has(m.from)) continue;
        const out = filter(m);
        if (out) this.cores.get(out.to)?.step(out);
      }
    }
    throw new Error('network did not settle');
  }

  tick(id: string, n = 1): void {
    for (let i = 0; i < n; i++) this.core(id).tick();
    this.flushReady();
  }

  /** Makes `id` campaign and delivers everything until quiet. */
  elect(id: string): void {
    this.core(id).campaignNow();
    this.settle();
  }

  leaders(): string[] {
    return [...this.cores.values()].filter((c) => c.role === 'leader').map((c) => c.id);
  }
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
