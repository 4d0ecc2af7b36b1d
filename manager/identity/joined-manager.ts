import { join } from 'node:path';
import { writeFileDurable } from '../../disk/index.js';
import { SkiffError } from '../../lib/index.js';
import { describeNodeCertificate, type requestJoin, saveIdentity, saveRaftIdentity } from '../ca/index.js';
import { issueRaftIdentity } from './manager-identity.js';
import { saveNodeId } from './node-id.js';

/** What `requestJoin` answers. */
export type AcceptedJoin = Awaited<ReturnType<typeof requestJoin>>;

export interface JoinedManager {
  nodeId: string;
  raftPeers: { id: string; addr: string }[];
}

/** Saves an accepted manager join; refuses a worker's. */
export async function saveManagerJoin(stateDir: string, res: AcceptedJoin): Promise<JoinedManager> {
  if (res.role !== 'manager' || !res.manager) {
    throw new SkiffError(
      'invalid_argument',
      'this is a worker token: a manager joins with the manager token',
      {
        hint: 'get it with `skiff cluster join-token manager` on a manager',
      },
    );
  }
  await saveIdentity(stateDir, res.identity);
  await saveRaftIdentity(
    stateDir,
    issueRaftIdentity(
      res.manager.raftCa,
      res.nodeId,
      describeNodeCertificate(res.identity.certPem).clusterId,
    ),
  );
  await saveNodeId(stateDir, res.nodeId);
  await writeFileDurable(join(stateDir, 'secrets.key'), Buffer.from(res.manager.secretsKey, 'base64'), {
    mode: 0o600,
  });
  return { nodeId: res.nodeId, raftPeers: res.manager.raftPeers };
}
