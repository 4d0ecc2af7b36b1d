// Acceptance of rolling updates on a real cluster: 3 managers and 3 workers of the real
// `skiff daemon` on lab hosts, real containers on an overlay network. A client in every
// host's network namespace probes the replicas on that host all through the update: a
// replica counts when the manager reports it running (healthy: health checks gate
// `running`) and it answers. An agent restarted mid-update restarts none of its tasks;
// an update goes on to completion under a new leader when the leader is killed.
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Service, ServiceSpec, Task, UpdateConfig } from '../../../lib/index.js';
import { waitFor } from '../../lab/index.js';
import {
  containerPids,
  LAB_IMAGE as IMAGE,
  type LabCluster,
  startLabCluster,
} from '../../support/lab-cluster.js';

const PROBER = resolve(import.meta.dirname, 'prober.mjs');
const PROBER_PORT = 9901;
const NET = 'probe';
const ALIVE = new Set(['assigned', 'accepted', 'preparing', 'ready', 'starting', 'running']);

interface Round {
  healthy: number;
  versions: string[];
  /** Live replicas that did not count, for failure messages. */
  missing: string[];
}

describe('rolling updates on a lab cluster (real containers, probed continuously)', () => {
  let c: LabCluster;
  /** The API of the first manager whose daemon runs, straight over its unix socket. */
  const api = () => c.api();
  const hostOf = (nodeId: string | undefined) => c.nodeOf(nodeId);

  beforeAll(async () => {
    // Docker's default heartbeat (a node is down after 15 s): an agent's restart fits in it.
    c = await startLabCluster({
      managers: 3,
      workers: 3,
      image: true,
      heartbeat: '5s',
      apiTimeoutMs: 10_000,
    });
    for (const n of c.nodes) {
      const p = n.host.spawn(process.execPath, [PROBER, n.addr, String(PROBER_PORT)]);
      await waitFor(() => p.output().includes('prober ready'), { what: `the prober on ${n.host.name}` });
    }
    await api().createNetwork({ Name: NET, Driver: 'overlay', Attachable: true });
  }, 300_000);

  afterAll(async () => {
    await c?.destroy();
  }, 120_000);

  const webSpec = (version: string, update: UpdateConfig, health?: string[]): ServiceSpec => ({
    Name: 'web',
    TaskTemplate: {
      ContainerSpec: {
        Image: IMAGE,
        Command: ['sh', '-c', 'echo "$V" > /www/index.html && exec httpd -f -p 8080 -h /www'],
        Env: [`V=${version}`],
        StopGracePeriod: 1e9,
        HealthCheck: {
          Test: health ?? ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1:8080/'],
          Interval: 500e6,
          Timeout: 3e9,
          Retries: 2,
        },
      },
      Networks: [{ Target: NET }],
      RestartPolicy: { Condition: 'any', Delay: 500e6 },
    },
    Mode: { Replicated: { Replicas: 6 } },
    UpdateConfig: update,
    RollbackConfig: { Parallelism: 2, Order: 'start-first', Monitor: 1e9 },
  });
  const tasks = (): Promise<Task[]> => api().listTasks({ service: ['web'] });
  const web = (): Promise<Service> => api().inspectService('web');
  const ipOf = (t: Task) =>
    t.NetworksAttachments?.find((a) => a.Network.Name === NET)?.Addresses?.[0]?.split('/')[0];

  /** A task in a failure message: ID, host, observed/desired state, env, error. */
  const describeTask = (t: Task) =>
    `${t.ID.slice(0, 8)} ${hostOf(t.NodeID)?.host.name} ${t.Status.State}/${t.DesiredState} ${t.Spec.ContainerSpec?.Env?.join(',')} ${t.Status.Err ?? ''}`;

  /** One probe of every live replica, each from its own host. */
  const probeRound = async (): Promise<Round> => {
    const live = (await tasks()).filter((t) => ALIVE.has(t.Status.State ?? 'new') && ipOf(t));
    const byHost = new Map<string, Task[]>();
    for (const t of live) {
      const h = hostOf(t.NodeID);
      if (!h) continue;
      byHost.set(h.addr, [...(byHost.get(h.addr) ?? []), t]);
    }
    const answers = await Promise.all(
      [...byHost].map(async ([addr, ts]) => {
        const url = `http://${addr}:${PROBER_PORT}/?port=8080&ips=${ts.map(ipOf).join(',')}`;
        const said = (await (await fetch(url)).json()) as Record<string, string | null>;
        return ts.map((t) => ({ task: t, said: said[ipOf(t)!] ?? null }));
      }),
    );
    const healthy = answers.flat().filter((a) => a.task.Status.State === 'running' && a.said !== null);
    const missing = answers
      .flat()
      .filter((a) => !healthy.includes(a))
      .map(
        (a) =>
          `${a.task.ID.slice(0, 8)}@${hostOf(a.task.NodeID)?.host.name}:${a.task.Status.State}/${a.task.DesiredState}:${a.said}`,
      );
    return { healthy: healthy.length, versions: healthy.map((a) => a.said!), missing };
  };

  /** Probes until `done` resolves; returns every round. */
  const probeDuring = async (done: Promise<unknown>): Promise<Round[]> => {
    const rounds: Round[] = [];
    let finished = false;
    const settled = done.finally(() => {
      finished = true;
    });
    while (!finished) rounds.push(await probeRound());
    await settled;
    return rounds;
  };

  const expectNeverBelow6 = (rounds: Round[]) => {
    const low = rounds.filter((r) => r.healthy < 6);
    expect(low, `rounds with fewer than 6 healthy of ${rounds.length}`).toEqual([]);
  };
  const updateTo = async (spec: ServiceSpec) => {
    const cur = await web();
    await api().updateService(cur.ID, cur.Version.Index, spec);
  };
  const updateState = (state: string, timeoutMs = 120_000) =>
    waitFor(async () => ((await web()).UpdateStatus?.State === state ? true : undefined), {
      what: `web's UpdateStatus to be ${state}`,
      timeoutMs,
      intervalMs: 200,
    });
  const allAnswer = async (version: string) => {
    let last: Round | undefined;
    try {
      return await waitFor(
        async () => {
          last = await probeRound();
          return last.healthy === 6 && last.versions.every((v) => v === version) ? last : undefined;
        },
        { what: `six healthy replicas answering ${version}`, timeoutMs: 120_000, intervalMs: 250 },
      );
    } catch (e) {
      const states = (await tasks())
        .filter((t) => t.DesiredState === 'running' || ALIVE.has(t.Status.State ?? 'new'))
        .map(describeTask);
      const nodes = (await api().listNodes()).map((n) => `${hostOf(n.ID)?.host.name} ${n.Status.State}`);
      throw new Error(
        `${(e as Error).message}\nlast round: ${JSON.stringify(last)}\ntasks:\n${states.join('\n')}\nnodes: ${nodes.join(', ')}`,
      );
    }
  };

  const rolling: UpdateConfig = {
    Parallelism: 2,
    Order: 'start-first',
    Delay: 0,
    FailureAction: 'rollback',
    Monitor: 1e9,
  };

  it('updates 6 replicas 2 at a time, start-first, never fewer than 6 healthy answering', async () => {
    await api().createService(webSpec('1', rolling));
    await allAnswer('1');
    const spread = new Set((await tasks()).filter((t) => t.Status.State === 'running').map((t) => t.NodeID));
    expect(spread.size).toBe(6);

    await updateTo(webSpec('2', rolling));
    const rounds = await probeDuring(updateState('completed'));
    await allAnswer('2');
    expectNeverBelow6(rounds);
    // The client saw the update happen: old and new versions answering side by side.
    expect(rounds.some((r) => r.versions.includes('1') && r.versions.includes('2'))).toBe(true);
  }, 240_000);

  it('rolls back an update whose health check fails, to the previous spec', async () => {
    const before = await web();
    await updateTo(webSpec('3', rolling, ['CMD', 'false']));
    const rounds = await probeDuring(updateState('rollback_completed'));
    expectNeverBelow6(rounds);
    const after = await web();
    expect(after.Spec.TaskTemplate?.ContainerSpec).toEqual(before.Spec.TaskTemplate?.ContainerSpec);
    expect(after.UpdateStatus?.State).toBe('rollback_completed');
    await allAnswer('2');
  }, 240_000);

  /**
   * Waits until the update's first batch answers while four old replicas still do. The
   * updates below pause between batches (Delay) long enough that a loaded machine's
   * slower probe rounds still see that moment.
   */
  const halfWay = async (from: string, to: string) => {
    let last: Round | undefined;
    try {
      await waitFor(
        async () => {
          last = await probeRound();
          const n = (v: string) => last!.versions.filter((x) => x === v).length;
          return n(to) >= 1 && n(to) <= 2 && n(from) >= 4;
        },
        { what: `the update from ${from} to ${to} to be half-way`, timeoutMs: 120_000, intervalMs: 200 },
      );
    } catch (e) {
      const status = (await web()).UpdateStatus;
      const states = (await tasks()).map(describeTask);
      throw new Error(
        `${(e as Error).message}\nupdate: ${JSON.stringify(status)}\nlast round: ${JSON.stringify(last)}\ntasks:\n${states.join('\n')}`,
      );
    }
  };

  it('restarting an agent mid-update restarts none of its tasks', async () => {
    const w = c.workers[0]!;
    await updateTo(webSpec('4', { ...rolling, Delay: 15e9 }));
    const probing = probeDuring(updateState('completed', 180_000));
    await halfWay('2', '4');
    const before = await containerPids(w);
    expect(before.size).toBeGreaterThan(0);
    const version = (await api().inspectNode(w.id)).Version.Index;
    await c.killDaemon(w);
    await c.restartDaemon(w);
    // The restarted agent registered again (the node object was written).
    await waitFor(async () => (await api().inspectNode(w.id)).Version.Index > version, {
      what: `the agent on ${w.host.name} to register again`,
      timeoutMs: 60_000,
      intervalMs: 200,
    });
    /**
     * Every container that ran before the restart still runs as the same process,
     * unless the update itself stopped it (its task was asked to shut down).
     */
    const unchanged = async (): Promise<number> => {
      const after = await containerPids(w);
      const byId = new Map((await tasks()).map((t) => [t.ID, t]));
      let kept = 0;
      for (const [id, pid] of before) {
        if (after.has(id)) {
          expect(after.get(id), `task ${id} kept its process`).toBe(pid);
          kept++;
        } else {
          // Stopped by the update: asked to shut down, and not orphaned by a node loss.
          const t = byId.get(id);
          expect(`${t?.DesiredState} ${t?.Status.State}`, `task ${id} was stopped by the update`).toMatch(
            /^shutdown (running|shutdown|complete)$/,
          );
        }
      }
      return kept;
    };
    expect(await unchanged()).toBeGreaterThan(0);
    expectNeverBelow6(await probing);
    await unchanged();
    // No task of this update failed (the agent's restart was no failure of its tasks).
    const failed = (await tasks()).filter(
      (t) =>
        (before.has(t.ID) || t.Spec.ContainerSpec?.Env?.includes('V=4')) &&
        ['failed', 'rejected', 'orphaned'].includes(t.Status.State ?? ''),
    );
    expect(failed.map((t) => `${t.ID} ${t.Status.State} ${t.Status.Err ?? ''}`)).toEqual([]);
    await allAnswer('4');
  }, 300_000);

  it('completes an update under the new leader when the leader is killed mid-update', async () => {
    const leader = await c.leader();
    await updateTo(webSpec('5', { ...rolling, Delay: 10e9 }));
    await halfWay('4', '5');
    await c.killDaemon(leader);
    // Still mid-update as the surviving managers see it.
    expect((await web()).UpdateStatus?.State).toBe('updating');
    // Another manager leads and finishes the update (the killed manager's containers
    // keep running: its replica counts until its node is marked down and replaced).
    await updateState('completed', 180_000);
    const now = await c.leader();
    expect(now.id).not.toBe(leader.id);
    await allAnswer('5');
    const live = (await tasks()).filter((t) => t.Status.State === 'running' && t.DesiredState === 'running');
    expect(live.every((t) => t.Spec.ContainerSpec?.Env?.includes('V=5'))).toBe(true);
  }, 300_000);
});
