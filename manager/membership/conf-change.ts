// Raft membership changes as the join service and the node routes make them: one change
// at a time in raft, so a join while another manager is being promoted waits its turn
// instead of failing.
import type { RaftMembership } from '../ca/index.js';
import { isRaftError, type RaftNode } from '../raft/index.js';

export function raftMembership(raft: RaftNode): RaftMembership {
  return {
    addLearner: (id, raftAddr) => retryConfChange(() => raft.addLearner(id, raftAddr)),
    members: () => raft.status().members.map((m) => ({ id: m.id, addr: m.addr })),
    removeMember: (id) => retryConfChange(() => raft.removeMember(id)),
  };
}

/** Retries a membership change while another one is pending. */
export async function retryConfChange(change: () => Promise<void>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await change();
    } catch (e) {
      if (!isRaftError(e, 'conf_pending') || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
