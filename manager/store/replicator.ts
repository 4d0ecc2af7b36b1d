import type { StateMachine } from './state.js';

/**
 * How the store gets a proposal into the replicated log. `propose` resolves once the
 * entry is committed and applied to the local state machine, and rejects with a
 * SkiffError ('not_leader', 'timeout', 'unavailable') when it cannot be committed.
 */
export interface Replicator {
  propose(data: Uint8Array): Promise<{ index: number }>;
  isLeader(): boolean;
  /** Address of the current leader's API/raft endpoint, when one is known. */
  leaderAddr(): string | undefined;
  /** Node ID of the current leader, when one is known. */
  leaderId(): string | undefined;
  /** Node IDs of the managers in the replication group, when the replicator knows them. */
  members?(): string[];
}

/**
 * A replicator that is its own log: applies each proposal at once, in process. For
 * unit tests and single-process use without persistence.
 */
export class LocalReplicator implements Replicator {
  private index: number;

  constructor(
    private readonly stateMachine: StateMachine & { readonly appliedIndex: number },
    private readonly self: { id?: string; addr?: string } = {},
  ) {
    this.index = stateMachine.appliedIndex;
  }

  async propose(data: Uint8Array): Promise<{ index: number }> {
    this.index = Math.max(this.index, this.stateMachine.appliedIndex) + 1;
    // Apply a copy: the bytes are the contract, as they would be after a trip through a log.
    this.stateMachine.apply({ index: this.index, term: 1, data: Uint8Array.from(data) });
    return { index: this.index };
  }

  isLeader(): boolean {
    return true;
  }

  leaderAddr(): string | undefined {
    return this.self.addr;
  }

  leaderId(): string | undefined {
    return this.self.id;
  }
}
