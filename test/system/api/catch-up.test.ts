// A manager that joins a cluster with a long log answers its first read with everything
// the cluster had committed: its API waits until it has caught up (a raft ReadIndex at
// start), where it used to answer from a store still replaying the log (a promoted
// node's `skiff node ls` did not list itself).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../../lib/index.js';
import type { Manager } from '../../../manager/index.js';
import { startInProcessManager } from '../../support/in-process-manager.js';
import { socketApi } from '../../support/skiff-node/index.js';

const CONFIGS = 1000;
let dir: string;
const managers: Manager[] = [];

async function startManager(name: string, join_?: { managerAddr: string; token: string }): Promise<Manager> {
  const m = await startInProcessManager(dir, name, join_);
  managers.push(m);
  return m;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skiff-catch-up-'));
});

afterAll(async () => {
  for (const m of managers.reverse()) await m.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('a manager joining a cluster', () => {
  it('serves its first read only once it has applied what the cluster committed before', async () => {
    const first = await startManager('m1');
    // Many raft entries (one per config), so that the newcomer replays them in several batches.
    for (let i = 0; i < CONFIGS; i += 200) {
      await Promise.all(
        Array.from({ length: Math.min(200, CONFIGS - i) }, (_, j) =>
          first.store.update((tx) => tx.createConfig({ Spec: { Name: `c${i + j}`, Data: 'eA==' } })),
        ),
      );
    }
    const token = first.store.getCluster()?.JoinTokens?.Manager;
    if (!token) throw new Error('no manager join token');
    const second = await startManager('m2', {
      managerAddr: first.leaderApiAddr() ?? '',
      token,
    });
    // The first answer of its API, as a client that was waiting for the socket gets it.
    const r = await socketApi(join(dir, 'm2', 'skiff.sock'), 'm2', 'GET', '/configs');
    expect(r.status).toBe(200);
    expect((r.json as Config[]).length).toBe(CONFIGS);
    expect(second.store.listConfigs().length).toBe(CONFIGS);
  }, 120_000);
});
