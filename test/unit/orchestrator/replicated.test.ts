import { describe, expect, it } from 'vitest';
import type { Task } from '../../../lib/index.js';
import { RESTART_HISTORY_LABEL, reconcileService } from '../../../manager/orchestrator/index.js';
import { type Behaviour, FakeCluster } from './fake-cluster.js';
import { node, service } from './fixtures.js';

function cluster(nodes = 3): FakeCluster {
  const c = new FakeCluster();
  for (let i = 1; i <= nodes; i++) c.addNode(node(`n${i}`));
  return c;
}

/** The first task the agent sees behaves as given; every later one runs. */
function firstTaskOnly(b: Behaviour): (t: Task) => Behaviour {
  let first: string | undefined;
  return (t) => {
    first ??= t.ID;
    return t.ID === first ? b : 'run';
  };
}

const live = (c: FakeCluster, id: string): Task[] =>
  c.tasksOf(id).filter((t) => t.DesiredState === 'running' || t.DesiredState === 'ready');

describe('replicated services', () => {
  it('creates slots 1..N, all running, spread over the nodes', () => {
    const c = cluster();
    c.setService(service('web', { Mode: { Replicated: { Replicas: 6 } } }));
    c.settle();
    const running = c.running('web');
    expect(running.map((t) => t.Slot).sort()).toEqual([1, 2, 3, 4, 5, 6]);
    const perNode = new Map<string, number>();
    for (const t of running) perNode.set(t.NodeID!, (perNode.get(t.NodeID!) ?? 0) + 1);
    expect([...perNode.values()]).toEqual([2, 2, 2]);
  });

  it('a second pass over the same snapshot changes nothing', () => {
    const c = cluster();
    c.setService(service('web', { Mode: { Replicated: { Replicas: 3 } } }));
    c.settle();
    const changes = reconcileService(
      { service: c.service('web'), tasks: c.tasksOf('web'), nodes: [...c.nodes.values()] },
      { now: c.now, newId: () => 'never' },
    );
    expect(changes).toEqual({ create: [], update: [], delete: [], serviceUpdates: [], wakeAt: undefined });
  });

  it('scales down by shutting down the highest slots first, and back up reusing free slot numbers', () => {
    const c = cluster();
    c.setService(service('web', { Mode: { Replicated: { Replicas: 5 } } }));
    c.settle();
    c.setService({
      ...c.service('web'),
      Spec: { ...c.service('web').Spec, Mode: { Replicated: { Replicas: 2 } } },
    });
    c.settle();
    expect(
      c
        .running('web')
        .map((t) => t.Slot)
        .sort(),
    ).toEqual([1, 2]);
    // Stopped replicas of removed slots are not kept as history.
    expect(c.tasksOf('web')).toHaveLength(2);
    c.setService({
      ...c.service('web'),
      Spec: { ...c.service('web').Spec, Mode: { Replicated: { Replicas: 4 } } },
    });
    c.settle();
    expect(
      c
        .running('web')
        .map((t) => t.Slot)
        .sort(),
    ).toEqual([1, 2, 3, 4]);
  });
});

describe('restart policy', () => {
  it('replaces a failed task in its slot after the restart delay, not before', () => {
    const c = cluster(1);
    const s = service('web');
    s.Spec.TaskTemplate!.RestartPolicy = { Condition: 'any', Delay: 10e9 };
    c.setService(s);
    let fail = true;
    c.behaviour = () => (fail ? 'fail' : 'run');
    c.settle();
    const first = c.tasksOf('web')[0]!;
    expect(first.Status.State).toBe('failed');
    fail = false;
    // The replacement exists (placed, image prepared) but waits.
    const waiting = c.tasksOf('web').find((t) => t.ID !== first.ID)!;
    expect(waiting.DesiredState).toBe('ready');
    expect(waiting.Slot).toBe(1);
    c.advance(9_000);
    expect(c.running('web')).toHaveLength(0);
    c.advance(1_000);
    expect(c.running('web').map((t) => t.ID)).toEqual([waiting.ID]);
    expect(c.tasksOf('web').find((t) => t.ID === first.ID)!.DesiredState).toBe('shutdown');
  });

  it('condition none leaves the slot empty; on-failure restarts failures but not completions', () => {
    for (const [condition, behaviour, expectedTasks] of [
      ['none', 'fail', 1],
      ['on-failure', 'complete', 1],
      ['any', 'complete', 2],
    ] as const) {
      const c = cluster(1);
      const s = service('web');
      s.Spec.TaskTemplate!.RestartPolicy = { Condition: condition, Delay: 0 };
      c.setService(s);
      c.behaviour = firstTaskOnly(behaviour);
      c.settle();
      c.advance(60_000);
      expect(c.tasksOf('web'), `${condition}/${behaviour}`).toHaveLength(expectedTasks);
    }
  });

  it('on-failure restarts a failing task, up to max_attempts within the window', () => {
    const c = cluster(1);
    const s = service('web');
    s.Spec.TaskTemplate!.RestartPolicy = {
      Condition: 'on-failure',
      Delay: 1e9,
      MaxAttempts: 3,
      Window: 60e9,
    };
    c.setService(s);
    c.behaviour = () => 'fail';
    c.advance(30_000);
    const tasks = c.tasksOf('web');
    // The first run and three restarts, then it gives up.
    expect(tasks).toHaveLength(4);
    expect(tasks.every((t) => t.Status.State === 'failed')).toBe(true);
    const last = tasks
      .sort((a, b) => a.CreatedAt.localeCompare(b.CreatedAt) || a.ID.localeCompare(b.ID))
      .at(-1)!;
    expect(last.Labels?.[RESTART_HISTORY_LABEL]?.split(',')).toHaveLength(3);
  });

  it('counts only restarts inside the window', () => {
    for (const [windowNs, expected] of [
      // Failures come 10 s apart: a 5 s window never holds 2 restarts, a 60 s one does.
      [5e9, 'many'],
      [60e9, 3],
    ] as const) {
      const c = cluster(1);
      c.historyLimit = -1;
      const s = service('web');
      s.Spec.TaskTemplate!.RestartPolicy = {
        Condition: 'any',
        Delay: 10e9,
        MaxAttempts: 2,
        Window: windowNs,
      };
      c.setService(s);
      c.behaviour = () => 'fail';
      c.advance(120_000);
      const n = c.tasksOf('web').length;
      if (expected === 'many') expect(n).toBeGreaterThanOrEqual(12);
      else expect(n, `window ${windowNs / 1e9}s`).toBe(expected);
    }
  });

  it('keeps a bounded history per slot, deleting the oldest dead tasks', () => {
    const c = cluster(1);
    c.historyLimit = 3;
    c.setService(service('web'));
    let failures = 0;
    c.behaviour = () => (failures++ < 30 ? 'fail' : 'run');
    c.advance(60_000);
    const tasks = c.tasksOf('web');
    expect(c.running('web')).toHaveLength(1);
    expect(tasks).toHaveLength(3);
    // What remains is the newest: the running task and the two failures right before it.
    expect(tasks.filter((t) => t.Status.State === 'failed')).toHaveLength(2);
  });
});

describe('node loss', () => {
  it('tasks of a node that goes down are orphaned and replaced on the other nodes', () => {
    const c = cluster(3);
    c.setService(service('web', { Mode: { Replicated: { Replicas: 6 } } }));
    c.settle();
    const onN1 = c.running('web').filter((t) => t.NodeID === 'n1');
    expect(onN1).toHaveLength(2);
    c.nodes.get('n1')!.Status.State = 'down';
    c.settle();
    for (const t of onN1) {
      const now = c.tasks.get(t.ID)!;
      expect(now.DesiredState).toBe('shutdown');
      expect(now.Status.State).toBe('orphaned');
      expect(now.Status.Message).toBe('node n1 is down');
    }
    const running = c.running('web');
    expect(running.map((t) => t.Slot).sort()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(running.every((t) => t.NodeID !== 'n1')).toBe(true);
  });

  it('a task already asked to stop on a node that goes down is orphaned too (no agent will say it stopped)', () => {
    const c = cluster(3);
    c.setService(service('web', { Mode: { Replicated: { Replicas: 3 } } }));
    c.settle();
    const onN1 = c.running('web').find((t) => t.NodeID === 'n1')!;
    // An update asked it to stop; the node died before its agent reported the stop.
    c.tasks.set(onN1.ID, { ...onN1, DesiredState: 'shutdown' });
    c.nodes.get('n1')!.Status.State = 'down';
    const changes = reconcileService(
      { service: c.service('web'), tasks: c.tasksOf('web'), nodes: [...c.nodes.values()] },
      {
        now: c.now,
        newId: (() => {
          let i = 0;
          return () => `new${++i}`;
        })(),
      },
    );
    const orphaned = changes.update.find((t) => t.ID === onN1.ID);
    expect(orphaned?.Status.State).toBe('orphaned');
    expect(orphaned?.Status.Message).toBe('node n1 is down');
    expect(orphaned?.DesiredState).toBe('shutdown');
  });

  it('drain moves tasks away and nothing new lands there', () => {
    const c = cluster(3);
    c.setService(service('web', { Mode: { Replicated: { Replicas: 6 } } }));
    c.settle();
    c.nodes.get('n2')!.Spec.Availability = 'drain';
    c.settle();
    expect(c.running('web')).toHaveLength(6);
    expect(c.tasksOf('web').filter((t) => t.NodeID === 'n2' && t.Status.State !== 'shutdown')).toEqual([]);
    c.setService(service('api', { Mode: { Replicated: { Replicas: 6 } } }));
    c.settle();
    expect(c.running('api')).toHaveLength(6);
    expect(c.tasksOf('api').some((t) => t.NodeID === 'n2')).toBe(false);
  });
});

describe('global services', () => {
  it('runs one task per eligible node, including a node that joins later', () => {
    const c = cluster(2);
    c.setService(service('agent', { Mode: { Global: {} } }));
    c.settle();
    expect(
      c
        .running('agent')
        .map((t) => t.NodeID)
        .sort(),
    ).toEqual(['n1', 'n2']);
    c.addNode(node('n3'));
    c.settle();
    expect(
      c
        .running('agent')
        .map((t) => t.NodeID)
        .sort(),
    ).toEqual(['n1', 'n2', 'n3']);
  });

  it('respects constraints, and stops the task of a node that stops matching or is drained', () => {
    const c = new FakeCluster();
    c.addNode(node('a1', { labels: { zone: 'a' } }));
    c.addNode(node('a2', { labels: { zone: 'a' } }));
    c.addNode(node('b1', { labels: { zone: 'b' } }));
    const s = service('agent', { Mode: { Global: {} } });
    s.Spec.TaskTemplate!.Placement = { Constraints: ['node.labels.zone==a'] };
    c.setService(s);
    c.settle();
    expect(
      c
        .running('agent')
        .map((t) => t.NodeID)
        .sort(),
    ).toEqual(['a1', 'a2']);
    c.nodes.get('a1')!.Spec.Labels = { zone: 'b' };
    c.nodes.get('a2')!.Spec.Availability = 'drain';
    c.settle();
    expect(c.running('agent')).toEqual([]);
    expect(c.tasksOf('agent').every((t) => t.DesiredState === 'shutdown')).toBe(true);
  });

  it('restarts a failed global task on the same node', () => {
    const c = cluster(2);
    c.setService(service('agent', { Mode: { Global: {} } }));
    const failOnN1 = firstTaskOnly('fail');
    c.behaviour = (t) => (t.NodeID === 'n1' ? failOnN1(t) : 'run');
    c.settle();
    expect(
      c
        .running('agent')
        .map((t) => t.NodeID)
        .sort(),
    ).toEqual(['n1', 'n2']);
    expect(c.tasksOf('agent').filter((t) => t.NodeID === 'n1')).toHaveLength(2);
    expect(live(c, 'agent')).toHaveLength(2);
  });

  it('skips nodes of other platforms, and gives a paused node nothing new while it keeps its task', () => {
    const c = new FakeCluster();
    c.addNode(node('amd'));
    const arm = node('arm');
    arm.Description!.Platform = { OS: 'linux', Architecture: 'aarch64' };
    c.addNode(arm);
    c.addNode(node('idle'));
    c.nodes.get('idle')!.Spec.Availability = 'pause';
    const s = service('agent', { Mode: { Global: {} } });
    s.Spec.TaskTemplate!.Placement = { Platforms: [{ OS: 'linux', Architecture: 'amd64' }] };
    c.setService(s);
    c.settle();
    expect(c.tasksOf('agent').map((t) => t.NodeID)).toEqual(['amd']);
    c.nodes.get('amd')!.Spec.Availability = 'pause';
    c.settle();
    expect(c.running('agent').map((t) => t.NodeID)).toEqual(['amd']);
  });
});
