// `service logs` from every node: a global service on three lab hosts (two managers and
// a worker, real daemons and containers); the logs read through the leader and through
// the follower both show the line of each of the three tasks, though each manager runs
// only one of them. A follower serves its own node's image endpoints itself (a tag made
// through it lands in its image store, not the leader's).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Task } from '../../../lib/index.js';
import { waitFor } from '../../lab/index.js';
import { LAB_IMAGE, type LabCluster, type LabClusterNode, logTail, startLabCluster } from './helpers.js';

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
        const ts = (await c.json<Task[]>(['service', 'ps', 'talker'])).filter(
          (t) => t.Status.State === 'running',
        );
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
});
