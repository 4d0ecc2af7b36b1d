// A manager leaving the raft group: a leader hands leadership over first, then the
// (new) leader removes the node and its raft membership.
import { SkiffError } from '../../lib/index.js';
import { callManager } from '../api/index.js';
import type { NodeIdentity } from '../ca/index.js';
import type { RaftNode } from '../raft/index.js';
import type { Store } from '../store/index.js';
import { waitForLeader } from './leadership.js';

export async function leaveRaft(
  raft: RaftNode,
  store: Store,
  nodeId: string,
  identity: NodeIdentity,
): Promise<void> {
  if (raft.status().leaderId === nodeId) {
    await raft.transferLeadership(undefined, { timeoutMs: 10_000 });
    await waitForLeader(raft, (id) => id !== '' && id !== nodeId, 10_000, 'hand leadership over');
  }
  const leaderId = raft.status().leaderId;
  const addr = leaderId ? store.getNode(leaderId)?.ManagerStatus?.Addr : undefined;
  if (!addr) {
    throw new SkiffError('unavailable', 'no leader is known, so this manager cannot be removed from raft', {
      hint: 'retry in a moment, or leave with --force',
    });
  }
  const res = await callManager(addr, 'DELETE', `/nodes/${nodeId}?force=true`, undefined, { tls: identity });
  if (res.status >= 300) {
    const message = (JSON.parse(res.body.toString() || '{}') as { message?: string }).message;
    throw new SkiffError('unavailable', `the leader did not remove this manager: ${message ?? res.status}`);
  }
}
