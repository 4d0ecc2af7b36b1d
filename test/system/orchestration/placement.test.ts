// Acceptance of scheduling and orchestration on a real cluster: three managers (h1-h3)
// and three workers (h4, h5, and h6 that joins later) of the real `skiff daemon` on lab
// hosts, real containers. A stack spreads evenly; constraints and placement preferences hold; a
// global service covers every node, also one that joins later; draining empties a node;
// a worker killed with -9 has its tasks replaced within 15 s of being marked down.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServiceSpec, Task } from '../../../lib/index.js';
import { waitFor } from '../../lab/index.js';
import { LAB_IMAGE as IMAGE, type LabCluster, startLabCluster } from '../../support/lab-cluster.js';

/** Running tasks of a service, by node. */
function runningByNode(tasks: readonly Task[]): Map<string, Task[]> {
  const m = new Map<string, Task[]>();
  for (const t of tasks) {
    if (t.Status.State !== 'running' || t.DesiredState !== 'running' || !t.NodeID) continue;
    const l = m.get(t.NodeID);
    if (l) l.push(t);
    else m.set(t.NodeID, [t]);
  }
  return m;
}

const sleeper = (name: string, extra: Partial<ServiceSpec> = {}): ServiceSpec => ({
  Name: name,
  TaskTemplate: {
    ContainerSpec: { Image: IMAGE, Command: ['sleep', '3600'], StopGracePeriod: 1e9 },
    ...extra.TaskTemplate,
  },
  Mode: extra.Mode ?? { Replicated: { Replicas: 1 } },
});

describe('placement and node loss on a lab cluster (3 managers + 3 workers, real containers)', () => {
  let c: LabCluster;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'skiff-orch-stack-'));
    // h6 is a spare worker: it joins in the global service's case.
    c = await startLabCluster({ managers: 3, workers: 2, spare: 1, image: true, heartbeat: '1s' });
  }, 240_000);

  afterAll(async () => {
    await c?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  const tasksOf = async (service: string): Promise<Task[]> => c.api().listTasks({ service: [service] });
  /** Waits until `service` has `n` running tasks and returns them. */
  const converged = async (service: string, n: number, timeoutMs = 90_000) => {
    try {
      return await waitFor(
        async () => {
          const live = [...runningByNode(await tasksOf(service)).values()].flat();
          return live.length === n ? live : undefined;
        },
        { what: `${n} running tasks of ${service}`, timeoutMs, intervalMs: 250 },
      );
    } catch (e) {
      const states = (await tasksOf(service)).map(
        (t) =>
          `${t.ID.slice(0, 8)} ${nameOf(t.NodeID)} ${t.Status.State}/${t.DesiredState} ${t.Status.Message ?? ''} ${t.Status.Err ?? ''}`,
      );
      throw new Error(`${(e as Error).message}; its tasks:\n${states.join('\n')}`);
    }
  };
  const nameOf = (nodeId: string | undefined) => c.nodeOf(nodeId)?.host.name ?? `?${nodeId}`;
  const countByHost = (tasks: Task[]) => {
    const m: Record<string, number> = {};
    for (const t of tasks) m[nameOf(t.NodeID)] = (m[nameOf(t.NodeID)] ?? 0) + 1;
    return m;
  };

  it('spreads a 10-service stack evenly over the five nodes', async () => {
    const services = Array.from(
      { length: 10 },
      (_, i) =>
        `  s${i}:\n    image: ${IMAGE}\n    command: ["sleep", "3600"]\n    stop_grace_period: 1s\n    deploy:\n      replicas: 2\n`,
    );
    const file = join(dir, 'stack.yml');
    writeFileSync(file, `services:\n${services.join('')}`);
    const r = await c.skiff(['stack', 'deploy', '-c', file, 'ten']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const all: Task[] = [];
    for (let i = 0; i < 10; i++) {
      const running = await converged(`ten_s${i}`, 2, i === 0 ? 150_000 : 30_000);
      // Each service's two replicas on two different nodes.
      expect(new Set(running.map((t) => t.NodeID)).size).toBe(2);
      all.push(...running);
    }
    // 20 tasks over 5 nodes: 4 each.
    expect(countByHost(all)).toEqual({ h1: 4, h2: 4, h3: 4, h4: 4, h5: 4 });
    expect((await c.skiff(['stack', 'rm', 'ten'])).code).toBe(0);
  }, 240_000);

  it('honours constraints and spread=node.labels.zone preferences', async () => {
    // Zone a: h1 alone; zone b: h2 to h5.
    for (const n of c.nodes.slice(0, 5)) {
      const zone = n.host.name === 'h1' ? 'a' : 'b';
      const r = await c.skiff(['node', 'update', '--label-add', `zone=${zone}`, n.id]);
      expect(r.code, r.stderr).toBe(0);
    }
    await c.api().createService(
      sleeper('pinned', {
        Mode: { Replicated: { Replicas: 2 } },
        TaskTemplate: { Placement: { Constraints: ['node.labels.zone==b', 'node.role==worker'] } },
      }),
    );
    await c.api().createService(
      sleeper('zoned', {
        Mode: { Replicated: { Replicas: 4 } },
        TaskTemplate: { Placement: { Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }] } },
      }),
    );
    const pinned = await converged('pinned', 2);
    expect(countByHost(pinned)).toEqual({ h4: 1, h5: 1 });
    // Half of the replicas per zone: zone a's one node takes two.
    const zoned = await converged('zoned', 4);
    const byHost = countByHost(zoned);
    expect(byHost.h1).toBe(2);
    expect((byHost.h2 ?? 0) + (byHost.h3 ?? 0) + (byHost.h4 ?? 0) + (byHost.h5 ?? 0)).toBe(2);
    await c.api().removeService('zoned');
  }, 180_000);

  it('runs a global service on every node, also on a node that joins later', async () => {
    await c.api().createService(sleeper('everywhere', { Mode: { Global: {} } }));
    const five = await converged('everywhere', 5);
    expect(countByHost(five)).toEqual({ h1: 1, h2: 1, h3: 1, h4: 1, h5: 1 });
    await c.join(c.nodes[5]!);
    const six = await converged('everywhere', 6);
    expect(countByHost(six)).toEqual({ h1: 1, h2: 1, h3: 1, h4: 1, h5: 1, h6: 1 });
  }, 180_000);

  it('moves tasks off a drained node and places nothing new there', async () => {
    const h6 = c.nodes[5]!;
    await c.api().createService(sleeper('movable', { Mode: { Replicated: { Replicas: 6 } } }));
    const before = await converged('movable', 6);
    expect(before.some((t) => t.NodeID === h6.id)).toBe(true);
    const r = await c.skiff(['node', 'update', '--availability', 'drain', h6.id]);
    expect(r.code, r.stderr).toBe(0);
    await waitFor(
      async () => {
        const live = [...runningByNode(await tasksOf('movable')).values()].flat();
        const global = [...runningByNode(await tasksOf('everywhere')).values()].flat();
        return (
          live.length === 6 &&
          live.every((t) => t.NodeID !== h6.id) &&
          global.every((t) => t.NodeID !== h6.id)
        );
      },
      { what: 'the drained node h6 to be empty and movable to run 6 tasks elsewhere', timeoutMs: 90_000 },
    );
    // Scaling up and a new service: nothing lands on the drained node.
    const spec = await c.api().inspectService('movable');
    await c.api().updateService(spec.ID, spec.Version.Index, {
      ...spec.Spec,
      Mode: { Replicated: { Replicas: 10 } },
    });
    await c.api().createService(sleeper('late', { Mode: { Replicated: { Replicas: 5 } } }));
    const scaled = await converged('movable', 10);
    const late = await converged('late', 5);
    expect([...scaled, ...late].filter((t) => t.NodeID === h6.id)).toEqual([]);
    const onH6 = (await c.api().listTasks()).filter(
      (t) => t.NodeID === h6.id && t.DesiredState === 'running',
    );
    expect(onH6).toEqual([]);
    await c.api().removeService('late');
  }, 180_000);

  it('replaces the tasks of a worker killed with -9 within 15 s of it being marked down', async () => {
    const h4 = c.nodes[3]!;
    const victims = (await tasksOf('movable')).filter(
      (t) => t.NodeID === h4.id && t.Status.State === 'running' && t.DesiredState === 'running',
    );
    expect(victims.length).toBeGreaterThan(0);
    await c.crash(h4);
    await waitFor(async () => (await c.api().inspectNode(h4.id)).Status.State === 'down', {
      what: 'the killed worker h4 to be marked down',
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    const downAt = Date.now();
    const moved = await waitFor(
      async () => {
        const live = [...runningByNode(await tasksOf('movable')).values()].flat();
        return live.length === 10 && live.every((t) => t.NodeID !== h4.id) ? live : undefined;
      },
      { what: "movable's 10 tasks running off the down node h4", timeoutMs: 15_000, intervalMs: 100 },
    );
    expect(Date.now() - downAt).toBeLessThan(15_000);
    // Not on the drained h6 either.
    expect(moved.every((t) => c.nodeOf(t.NodeID)?.host.name !== 'h6')).toBe(true);
    // The constrained service has nowhere else to go but h5, the other worker in zone b.
    const pinned = await converged('pinned', 2, 15_000);
    expect(countByHost(pinned)).toEqual({ h5: 2 });
  }, 120_000);
});
