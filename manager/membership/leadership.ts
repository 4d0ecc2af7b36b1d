// Waiting for raft leadership to reach a state, driven by raft's leader-change events.
import { SkiffError } from '../../lib/index.js';
import type { RaftNode } from '../raft/index.js';

/** Resolves once `cond` holds for the current leader ID ('' while none is known). */
export function waitForLeader(
  raft: RaftNode,
  cond: (leaderId: string) => boolean,
  timeoutMs: number,
  what: string,
): Promise<void> {
  if (cond(raft.status().leaderId)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(
        new SkiffError('unavailable', `this manager could not ${what} within ${timeoutMs}ms`, {
          hint: 'check that the raft addresses are reachable and the state directory belongs to this cluster',
        }),
      );
    }, timeoutMs);
    const off = raft.onLeaderChange((leaderId) => {
      if (!cond(leaderId)) return;
      clearTimeout(timer);
      off();
      resolve();
    });
  });
}
