// A manager joining an existing cluster with the manager token (first start only): it
// gets its identity, keys and raft peers from the cluster.
import { SkiffError } from '../../lib/index.js';
import { requestJoin } from '../ca/index.js';
import { type JoinedManager, saveManagerJoin } from '../identity/index.js';

export async function joinAsManager(o: {
  stateDir: string;
  managerAddr: string;
  token: string;
  hostname: string;
  /** host:port other nodes reach this manager's API at. */
  addr: string;
  /** Where this manager's raft is reached: other managers connect to it. */
  raftAddr: string | undefined;
}): Promise<JoinedManager> {
  if (!o.raftAddr || o.raftAddr.endsWith(':0')) {
    throw new SkiffError(
      'invalid_argument',
      'a joining manager needs a fixed raft address (raft.listenAddr)',
      {
        hint: 'other managers connect to it',
      },
    );
  }
  const res = await requestJoin({
    managerAddr: o.managerAddr,
    token: o.token,
    hostname: o.hostname,
    addr: o.addr,
    raftAddr: o.raftAddr,
  });
  return saveManagerJoin(o.stateDir, res);
}
