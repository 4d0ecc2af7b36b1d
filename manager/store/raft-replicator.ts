import { SkiffError } from '../../lib/index.js';
import type { Replicator } from './replicator.js';

/**
 * What the store needs from a raft node (manager/raft's RaftNode has this shape). Kept
 * structural so the store does not depend on raft's implementation.
 */
export interface RaftLike {
  propose(data: Uint8Array, opts?: { timeoutMs?: number }): Promise<{ index: number }>;
  status(): { leaderId: string; role: string; members: { id: string; addr: string }[] };
}

/** The store's replicator over a raft node: proposals go through the replicated log. */
export class RaftReplicator implements Replicator {
  constructor(
    private readonly raft: RaftLike,
    private readonly opts: { timeoutMs?: number } = {},
  ) {}

  async propose(data: Uint8Array): Promise<{ index: number }> {
    try {
      return await this.raft.propose(
        data,
        this.opts.timeoutMs === undefined ? undefined : { timeoutMs: this.opts.timeoutMs },
      );
    } catch (e) {
      throw toSkiffError(e);
    }
  }

  isLeader(): boolean {
    return this.raft.status().role === 'leader';
  }

  leaderId(): string | undefined {
    return this.raft.status().leaderId || undefined;
  }

  members(): string[] {
    return this.raft.status().members.map((m) => m.id);
  }

  leaderAddr(): string | undefined {
    const s = this.raft.status();
    return s.members.find((m) => m.id === s.leaderId)?.addr || undefined;
  }
}

function toSkiffError(e: unknown): SkiffError {
  if (e instanceof SkiffError) return e;
  const code = typeof e === 'object' && e !== null && 'code' in e ? String(e.code) : '';
  const message = e instanceof Error ? e.message : String(e);
  const leaderAddr = typeof e === 'object' && e !== null && 'leaderAddr' in e ? e.leaderAddr : undefined;
  switch (code) {
    case 'not_leader':
      return new SkiffError('not_leader', `this manager is not the raft leader: ${message}`, {
        ...(typeof leaderAddr === 'string' ? { hint: `the leader is at ${leaderAddr}` } : {}),
        cause: e,
      });
    case 'timeout':
      return new SkiffError('timeout', `the change was not committed in time: ${message}`, {
        hint: 'a majority of managers may be unreachable; the change may still be applied later',
        cause: e,
      });
    case 'term_changed':
    case 'transferring':
      return new SkiffError('unavailable', `leadership changed while committing: ${message}`, {
        hint: 'retry the request',
        cause: e,
      });
    default:
      return new SkiffError('unavailable', `the replicated log is unavailable: ${message}`, { cause: e });
  }
}
