// First start with a token: the node asks to join, and the answer (the token's role)
// decides whether it starts as a manager or as a worker.
import { hostname as osHostname } from 'node:os';
import type { Logger } from '../lib/index.js';
import { type AcceptedJoin, requestJoin } from '../manager/index.js';
import type { ClusterNodeOptions } from './options.js';
import { DEFAULT_PORT } from './ports.js';

export async function joinCluster(
  o: ClusterNodeOptions,
  join: { manager: string; token: string },
  log: Logger,
): Promise<AcceptedJoin> {
  const port = o.port ?? DEFAULT_PORT;
  const joined = await requestJoin({
    managerAddr: join.manager,
    token: join.token,
    hostname: osHostname(),
    addr: `${o.advertiseAddr}:${port}`,
    raftAddrIfManager: `${o.advertiseAddr}:${port + 1}`,
  });
  log.info({ nodeId: joined.nodeId, role: joined.role }, 'join accepted');
  return joined;
}
