// Disaster recovery without a backup, in a lab of three manager daemons: two managers
// are lost for good (their hosts crash), so the survivor has no quorum and refuses
// writes; `skiff daemon run --force-new-cluster` on it makes a one-manager cluster from
// its own committed state (the service and an earlier write still there, the service
// running), and the two lost hosts, their cluster state wiped, join it again with the
// manager token: three managers with a leader.
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Task } from '../../../lib/index.js';
import { waitFor } from '../../lab/index.js';
import {
  LAB_IMAGE,
  type LabCluster,
  type LabClusterNode,
  logTail,
  startLabCluster,
} from '../../support/lab-cluster.js';
import { socketApi } from '../../support/skiff-node/index.js';

let c: LabCluster;

const api = (n: LabClusterNode, method: string, path: string, body?: unknown) =>
  socketApi(join(n.runDir, 'skiff.sock'), n.host.name, method, path, body);

const running = (tasks: Task[]) =>
  tasks.filter((t) => t.Status.State === 'running' && t.DesiredState === 'running');

/** What `skiff cluster leave` forgets: the node's identity, raft log and keys. */
async function wipeClusterState(n: LabClusterNode): Promise<void> {
  for (const f of ['certs', 'raft', 'node-id', 'secrets.key', 'secrets.key.locked', 'worker.json']) {
    await rm(join(n.stateDir, f), { recursive: true, force: true });
  }
}

beforeAll(async () => {
  c = await startLabCluster({ managers: 3, image: true });
}, 300_000);

afterAll(async () => {
  await c?.destroy();
}, 120_000);

describe('--force-new-cluster on the survivor of three managers', () => {
  it('brings writes back with the earlier state, and the lost managers rejoin', async () => {
    const created = await c.skiff([
      'service',
      'create',
      '--name',
      'web',
      '--replicas',
      '3',
      '--timeout',
      '120s',
      LAB_IMAGE,
      'sh',
      '-c',
      'trap "exit 0" TERM; sleep 3600 & wait',
    ]);
    expect(created.code, created.stderr).toBe(0);
    const before = await api(c.managers[0]!, 'POST', '/configs/create', { Name: 'before', Data: 'YQ==' });
    expect(before.status).toBe(201);

    // The survivor is a follower: the leader is among the lost.
    const leader = await c.leader();
    const survivor = c.managers.find((m) => m !== leader)!;
    const lost = c.managers.filter((m) => m !== survivor);
    const oldIds = lost.map((m) => m.id);
    for (const m of lost) await c.crash(m);

    // No quorum: a write is refused (not acknowledged), whatever the wait.
    const refused = await c
      .api(survivor)
      .createConfig({ Name: 'no-quorum', Data: 'YQ==' })
      .then(
        () => 'acknowledged',
        (e: unknown) => String(e),
      );
    console.log(`a write without quorum: ${refused}`);
    expect(refused).not.toBe('acknowledged');

    await c.killDaemon(survivor);
    await c.restartDaemon(survivor, ['--force-new-cluster']);
    const back = await waitFor(
      async () => {
        const r = await api(survivor, 'POST', '/configs/create', { Name: 'after', Data: 'YQ==' }).catch(
          () => undefined,
        );
        return r?.status === 201 ? r : undefined;
      },
      { what: `writes through ${survivor.host.name} after --force-new-cluster`, timeoutMs: 60_000 },
    ).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${logTail(survivor)}`);
    });
    expect(back.status).toBe(201);
    // The earlier state is intact: the config written before, the service, and it runs
    // (its tasks on the lost nodes replaced on the survivor).
    expect((await api(survivor, 'GET', '/configs/before')).status).toBe(200);
    expect((await api(survivor, 'GET', '/configs/no-quorum')).status).toBe(404);
    const replaced = await waitFor(
      async () => {
        const ts = running(await c.apiTasks(['web'], survivor));
        return ts.length === 3 && ts.every((t) => t.NodeID === survivor.id) ? ts : undefined;
      },
      { what: 'three running tasks on the survivor', timeoutMs: 120_000 },
    );
    expect(replaced).toHaveLength(3);
    // Only the survivor is a manager now; the lost ones are down.
    const alone = await c.apiNodes(survivor);
    expect(alone.filter((n) => n.ManagerStatus).map((n) => n.ID)).toEqual([survivor.id]);
    for (const id of oldIds) expect(alone.find((n) => n.ID === id)?.Status.State).toBe('down');

    // The lost hosts come back with their state wiped and join as managers.
    for (const m of lost) {
      await wipeClusterState(m);
      await c.join(m);
      expect(oldIds).not.toContain(m.id);
    }
    const managers = await waitFor(
      async () => {
        const ns = await c.apiNodes(survivor);
        const ms = ns.filter((n) => n.ManagerStatus?.Reachability === 'reachable');
        return ms.length === 3 && ms.filter((n) => n.ManagerStatus?.Leader).length === 1 ? ms : undefined;
      },
      { what: 'three reachable managers with a leader', timeoutMs: 120_000 },
    );
    expect(managers.map((n) => n.ID).sort()).toEqual(c.managers.map((m) => m.id).sort());
    // Each rejoined manager serves the cluster's state, and writes go through it.
    for (const m of lost) {
      const r = await waitFor(
        async () => {
          const w = await api(m, 'POST', '/configs/create', {
            Name: `via-${m.host.name}`,
            Data: 'YQ==',
          }).catch(() => undefined);
          return w?.status === 201 ? w : undefined;
        },
        { what: `a write through the rejoined ${m.host.name}`, timeoutMs: 60_000 },
      );
      expect(r.status).toBe(201);
      expect((await api(m, 'GET', '/services/web')).status).toBe(200);
    }
  }, 600_000);
});
