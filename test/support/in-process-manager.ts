// Managers started in the test's own process (no daemon, no lab host): each with a state
// dir and socket under `dir/<name>`, the API on a loopback port, raft on another with a
// short tick. The caller stops them.
import { join } from 'node:path';
import { Manager } from '../../manager/index.js';
import { freePort } from '../lab/index.js';

export async function startInProcessManager(
  dir: string,
  name: string,
  join_?: { managerAddr: string; token: string },
): Promise<Manager> {
  const [api, raft] = [await freePort(), await freePort()];
  return Manager.start({
    stateDir: join(dir, name, 'state'),
    socketPath: join(dir, name, 'skiff.sock'),
    hostname: name,
    tcp: { host: '127.0.0.1', port: api },
    advertiseAddr: `127.0.0.1:${api}`,
    raft: { listenAddr: `127.0.0.1:${raft}`, tickMs: 20 },
    ...(join_ ? { join: join_ } : {}),
  });
}
