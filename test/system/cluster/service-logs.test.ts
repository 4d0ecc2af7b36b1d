// `service logs` from every node: a global service on three lab hosts (two managers and
// a worker, real daemons and containers); the logs read through the leader and through
// the follower both show the line of each of the three tasks, though each manager runs
// only one of them. A follower serves its own node's image endpoints itself (a tag made
// through it lands in its image store, not the leader's). A service's stats (CPU and
// memory) come from every node too, and a node that stops answering is named, not waited on.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceStats } from '../../../lib/index.js';
import { waitFor } from '../../lab/index.js';
import {
  LAB_IMAGE,
  type LabCluster,
  type LabClusterNode,
  logTail,
  startLabCluster,
} from '../../support/lab-cluster.js';

describe('service logs and node-local endpoints across lab hosts', () => {
  let c: LabCluster;

  beforeAll(async () => {
    c = await startLabCluster({ managers: 2, workers: 1, image: true });
  }, 240_000);

  afterAll(async () => {
    await c?.skiff(['service', 'rm', 'talker']).catch(() => {});
    await c?.destroy();
  }, 120_000);

  it("prints every task's lines, from every node, whichever manager is asked", async () => {
    const create = await c.skiff([
      'service',
      'create',
      '--detach',
      '--name',
      'talker',
      '--mode',
      'global',
      LAB_IMAGE,
      'sh',
      '-c',
      'echo "hello from $(cat /etc/hostname)"; echo "to stderr" >&2; exec sleep 3600',
    ]);
    expect(create.code, create.stderr).toBe(0);
    const tasks = await waitFor(
      async () => {
        const ts = (await c.apiTasks(['talker'])).filter((t) => t.Status.State === 'running');
        return ts.length === 3 ? ts : undefined;
      },
      { what: 'talker running on the three hosts', timeoutMs: 120_000 },
    );
    expect(new Set(tasks.map((t) => t.NodeID)).size).toBe(3);

    const leader = await c.leader();
    const follower = c.managers.find((m) => m !== leader) as LabClusterNode;
    for (const on of [leader, follower]) {
      // A task's first lines may reach its log a moment after `running`: wait for all three.
      const out = await waitFor(
        async () => {
          const r = await c.skiff(['service', 'logs', 'talker'], on);
          const hellos = r.stdout.split('\n').filter((l) => l.includes('hello from'));
          return hellos.length === 3 ? r : undefined;
        },
        { what: `three tasks' lines through ${on.host.name}`, timeoutMs: 60_000 },
      ).catch((e: unknown) => {
        throw new Error(
          `${String(e)}\n${c.nodes.map((n) => `${n.host.name}:\n${logTail(n, 30)}`).join('\n')}`,
        );
      });
      for (const t of tasks) expect(out.stdout).toContain(t.ID.slice(0, 12));
      expect(out.stdout).not.toContain('cannot be read');
      expect(out.stderr.split('\n').filter((l) => l.includes('to stderr'))).toHaveLength(3);
    }
  });

  it("tags an image in the follower's own store when asked through the follower", async () => {
    const leader = await c.leader();
    const follower = c.managers.find((m) => m !== leader) as LabClusterNode;
    const tag = await c.skiff(['image', 'tag', LAB_IMAGE, 'localhost/only-here:1'], follower);
    expect(tag.code, tag.stderr).toBe(0);
    expect((await c.skiff(['image', 'ls'], follower)).stdout).toContain('localhost/only-here');
    expect((await c.skiff(['image', 'ls'], leader)).stdout).not.toContain('localhost/only-here');
  });

  it("answers every task's CPU and memory from every node, whichever manager is asked, and names a node that does not answer", async () => {
    const tasks = (await c.apiTasks(['talker'])).filter((t) => t.Status.State === 'running');
    expect(tasks).toHaveLength(3);
    const stats = async (on: LabClusterNode) => {
      const res = await c.api(on).request({ method: 'GET', path: '/skiff/services/talker/stats' });
      const text = await res.text();
      expect(res.statusCode, text).toBe(200);
      return JSON.parse(text) as ServiceStats;
    };
    const leader = await c.leader();
    const follower = c.managers.find((m) => m !== leader) as LabClusterNode;
    for (const on of [leader, follower]) {
      const s = await stats(on);
      expect(s.unreachable, on.host.name).toEqual([]);
      expect(s.tasks.map((t) => `${t.taskId}@${t.nodeId}`).sort()).toEqual(
        tasks.map((t) => `${t.ID}@${t.NodeID}`).sort(),
      );
      for (const t of s.tasks) {
        expect(t.memoryBytes).toBeGreaterThan(0);
        expect(t.cpuNanos).toBeGreaterThan(0);
      }
    }
    // The worker's daemon dies (its container keeps running): the read goes on without it.
    const worker = c.workers[0] as LabClusterNode;
    await c.killDaemon(worker);
    const started = Date.now();
    const s = await stats(leader);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(s.unreachable.map((u) => u.nodeId)).toEqual([worker.id]);
    expect(s.unreachable[0]?.message).toMatch(/did not answer within 2000ms|is not connected|disconnected/);
    expect(s.tasks.map((t) => t.nodeId).sort()).toEqual(
      tasks
        .map((t) => t.NodeID)
        .filter((id) => id !== worker.id)
        .sort(),
    );
  });
});
