import { describe, expect, it } from 'vitest';
import {
  MAX_ROLLOUTS,
  type Rollout,
  rolloutsOf,
  type Service,
  type UpdateConfig,
  type UpdateState,
} from '../../../lib/index.js';
import { applyServiceUpdate, rollbackService } from '../../../manager/orchestrator/index.js';
import { FakeCluster } from './fake-cluster.js';
import { node, service, withImage } from './fixtures.js';

const imageOf = (c: FakeCluster, id: string): string[] =>
  c
    .running(id)
    .map((t) => t.Spec.ContainerSpec!.Image)
    .sort();

function deployed(
  replicas: number,
  update: UpdateConfig,
  rollback?: UpdateConfig,
  restartDelayNs = 0,
): FakeCluster {
  const c = new FakeCluster();
  for (let i = 1; i <= 3; i++) c.addNode(node(`n${i}`));
  const s = service('web', {
    Mode: { Replicated: { Replicas: replicas } },
    UpdateConfig: update,
    RollbackConfig: rollback,
  });
  s.Spec.TaskTemplate!.RestartPolicy = { Condition: 'any', Delay: restartDelayNs };
  c.setService(s);
  c.settle();
  expect(c.running('web')).toHaveLength(replicas);
  return c;
}

function update(c: FakeCluster, image: string): void {
  const s = c.service('web');
  c.setService(applyServiceUpdate(s, withImage(s, image), new Date(c.now).toISOString()));
}

/** Records each distinct UpdateStatus.State the service goes through. */
function watchStates(c: FakeCluster): UpdateState[] {
  const seen: UpdateState[] = [];
  const prev = c.onStep;
  c.onStep = (cl) => {
    prev(cl);
    const st = cl.service('web').UpdateStatus?.State;
    if (st && seen.at(-1) !== st) seen.push(st);
  };
  return seen;
}

describe('rolling update', () => {
  it('rolling update of 6 replicas, parallelism 2, start-first keeps ≥ 6 running at every step', () => {
    const c = deployed(6, { Parallelism: 2, Order: 'start-first', Monitor: 5e9 });
    let minRunning = Number.POSITIVE_INFINITY;
    let maxNew = 0;
    c.onStep = (cl) => {
      minRunning = Math.min(minRunning, cl.running('web').length);
      const startingNew = cl
        .tasksOf('web')
        .filter((t) => t.Spec.ContainerSpec?.Image === 'app:v2' && t.Status.State !== 'running').length;
      maxNew = Math.max(maxNew, startingNew);
    };
    const states = watchStates(c);
    update(c, 'app:v2');
    c.advance(60_000);
    expect(minRunning).toBeGreaterThanOrEqual(6);
    expect(maxNew).toBeLessThanOrEqual(2);
    expect(imageOf(c, 'web')).toEqual(Array(6).fill('app:v2'));
    expect(states).toEqual(['updating', 'completed']);
    expect(c.service('web').UpdateStatus?.Message).toBe('update completed');
    // Old tasks were stopped, not left running beside the new ones.
    expect(c.tasksOf('web').filter((t) => t.Status.State === 'running')).toHaveLength(6);
  });

  it('stop-first takes down at most `parallelism` replicas at a time', () => {
    const c = deployed(6, { Parallelism: 2, Order: 'stop-first', Monitor: 0 });
    let minRunning = Number.POSITIVE_INFINITY;
    c.onStep = (cl) => {
      minRunning = Math.min(minRunning, cl.running('web').length);
    };
    update(c, 'app:v2');
    c.advance(30_000);
    expect(minRunning).toBe(4);
    expect(imageOf(c, 'web')).toEqual(Array(6).fill('app:v2'));
    expect(c.service('web').UpdateStatus?.State).toBe('completed');
  });

  it('waits `delay` between batches and `monitor` after the last before completing', () => {
    const c = deployed(3, { Parallelism: 1, Delay: 10e9, Monitor: 7e9 });
    const t0 = c.now;
    update(c, 'app:v2');
    c.advance(60_000);
    const started = c
      .running('web')
      .map((t) => Date.parse(t.Status.Timestamp!) - t0)
      .sort((a, b) => a - b);
    expect(started[1]! - started[0]!).toBeGreaterThanOrEqual(10_000);
    expect(started[2]! - started[1]!).toBeGreaterThanOrEqual(10_000);
    const st = c.service('web').UpdateStatus!;
    expect(st.State).toBe('completed');
    expect(Date.parse(st.CompletedAt!) - t0 - started[2]!).toBeGreaterThanOrEqual(7_000);
  });

  it('a zero monitor waits the 5 s default before completing, as Docker does', () => {
    const c = deployed(1, { Parallelism: 1, Monitor: 0 });
    const t0 = c.now;
    update(c, 'app:v2');
    c.advance(60_000);
    const started = Date.parse(c.running('web')[0]!.Status.Timestamp!) - t0;
    const st = c.service('web').UpdateStatus!;
    expect(st.State).toBe('completed');
    expect(Date.parse(st.CompletedAt!) - t0 - started).toBeGreaterThanOrEqual(5_000);
  });

  it('failing health check + failure_action rollback ends with the previous spec and rollback_completed', () => {
    const c = deployed(
      6,
      { Parallelism: 2, Order: 'start-first', FailureAction: 'rollback', Monitor: 5e9 },
      { Parallelism: 2, Order: 'start-first', Monitor: 1e9 },
    );
    const before = c.service('web').Spec;
    c.behaviour = (t) => (t.Spec.ContainerSpec?.Image === 'app:v2' ? 'unhealthy' : 'run');
    let minRunning = Number.POSITIVE_INFINITY;
    c.onStep = (cl) => {
      minRunning = Math.min(minRunning, cl.running('web').length);
    };
    const states = watchStates(c);
    update(c, 'app:v2');
    c.advance(60_000);
    const s = c.service('web');
    expect(s.Spec).toEqual(before);
    expect(states).toEqual(['updating', 'rollback_started', 'rollback_completed']);
    expect(s.UpdateStatus?.Message).toBe('rollback completed');
    expect(imageOf(c, 'web')).toEqual(Array(6).fill('app:v1'));
    expect(minRunning).toBeGreaterThanOrEqual(6);
  });

  it('a stop-first update that fails rolls back and restores every replica', () => {
    const c = deployed(4, { Parallelism: 1, FailureAction: 'rollback', Monitor: 2e9 });
    c.behaviour = (t) => (t.Spec.ContainerSpec?.Image === 'app:v2' ? 'fail' : 'run');
    update(c, 'app:v2');
    c.advance(30_000);
    expect(c.service('web').UpdateStatus?.State).toBe('rollback_completed');
    expect(imageOf(c, 'web')).toEqual(Array(4).fill('app:v1'));
  });

  it('failure_action pause stops the update and says which task failed', () => {
    // A restart delay, or the failing task would crash-loop within one instant.
    const c = deployed(4, { Parallelism: 1, FailureAction: 'pause', Monitor: 2e9 }, undefined, 5e9);
    c.behaviour = (t) => (t.Spec.ContainerSpec?.Image === 'app:v2' ? 'fail' : 'run');
    update(c, 'app:v2');
    c.advance(3_000);
    const st = c.service('web').UpdateStatus!;
    expect(st.State).toBe('paused');
    const failed = c
      .tasksOf('web')
      .find((t) => t.Spec.ContainerSpec?.Image === 'app:v2' && t.Status.State === 'failed')!;
    expect(st.Message).toBe(`update paused due to failure or early termination of task ${failed.ID}`);
    // The other three replicas are never touched while it stays paused.
    c.advance(30_000);
    expect(c.service('web').UpdateStatus?.State).toBe('paused');
    expect(imageOf(c, 'web')).toEqual(Array(3).fill('app:v1'));
  });

  it('failure_action continue and max_failure_ratio let an update finish despite failures', () => {
    for (const cfg of [
      { Parallelism: 2, FailureAction: 'continue', Monitor: 1e9 },
      { Parallelism: 2, FailureAction: 'pause', MaxFailureRatio: 0.5, Monitor: 1e9 },
    ] as UpdateConfig[]) {
      const c = deployed(6, cfg);
      let failedOnce = false;
      c.behaviour = (t) => {
        if (t.Spec.ContainerSpec?.Image !== 'app:v2' || failedOnce) return 'run';
        if (t.Status.State === 'starting') failedOnce = true;
        return 'fail';
      };
      update(c, 'app:v2');
      c.advance(60_000);
      expect(c.service('web').UpdateStatus?.State, JSON.stringify(cfg)).toBe('completed');
      expect(imageOf(c, 'web')).toEqual(Array(6).fill('app:v2'));
    }
  });

  it('a failing rollback pauses instead of rolling back again', () => {
    const c = deployed(
      3,
      { Parallelism: 1, FailureAction: 'rollback', Monitor: 1e9 },
      { FailureAction: 'rollback' },
      5e9,
    );
    c.behaviour = () => 'run';
    update(c, 'app:v2');
    c.advance(30_000);
    expect(c.service('web').UpdateStatus?.State).toBe('completed');
    // Now v1 is broken (say, its image is gone): rolling back to it fails.
    c.behaviour = (t) => (t.Spec.ContainerSpec?.Image === 'app:v1' ? 'fail' : 'run');
    c.setService(rollbackService(c.service('web'), new Date(c.now).toISOString()));
    c.advance(30_000);
    const st = c.service('web').UpdateStatus!;
    expect(st.State).toBe('rollback_paused');
    expect(st.Message).toMatch(/^rollback paused due to failure or early termination of task t\d+$/);
  });

  it('service rollback returns to the previous spec per RollbackConfig', () => {
    const c = deployed(3, { Parallelism: 1, Monitor: 1e9 }, { Parallelism: 0, Monitor: 1e9 });
    const v1 = c.service('web').Spec;
    update(c, 'app:v2');
    c.advance(30_000);
    const v2 = c.service('web').Spec;
    c.setService(rollbackService(c.service('web'), new Date(c.now).toISOString()));
    expect(c.service('web').UpdateStatus?.Message).toBe('manually requested rollback');
    c.advance(30_000);
    const s = c.service('web');
    expect(s.Spec).toEqual(v1);
    expect(s.PreviousSpec).toEqual(v2);
    expect(s.UpdateStatus?.State).toBe('rollback_completed');
    expect(imageOf(c, 'web')).toEqual(Array(3).fill('app:v1'));
    expect(() => rollbackService({ ...s, PreviousSpec: undefined }, 'x')).toThrow(/has no previous spec/);
  });

  it('keeps the last rollouts with their outcome: completed, rolled back by failure, rollback completed, paused', () => {
    const c = deployed(
      2,
      { Parallelism: 1, FailureAction: 'rollback', Monitor: 1e9 },
      { Parallelism: 1, Monitor: 1e9 },
      5e9,
    );
    expect(rolloutsOf(c.service('web'))).toEqual([]);
    update(c, 'app:v2');
    c.advance(30_000);
    // v3 fails: the update machine rolls it back to v2.
    c.behaviour = (t) => (t.Spec.ContainerSpec?.Image === 'app:v3' ? 'fail' : 'run');
    update(c, 'app:v3');
    c.advance(30_000);
    const brief = (r: Rollout) => [r.Kind, r.Outcome, r.Image];
    expect(rolloutsOf(c.service('web')).map(brief)).toEqual([
      ['rollback', 'completed', 'app:v2'],
      ['update', 'rolled_back', 'app:v3'],
      ['update', 'completed', 'app:v2'],
    ]);
    const [rollback, failed, done] = rolloutsOf(c.service('web'));
    expect(failed!.FinishedAt).toBe(rollback!.StartedAt);
    expect(failed!.Message).toBe('update in progress');
    expect(Date.parse(done!.FinishedAt!)).toBeGreaterThan(Date.parse(done!.StartedAt));
    expect(done!.Message).toBe('update completed');

    // A paused update, then a newer update over it; the history stays bounded.
    const again = deployed(1, { Parallelism: 1, FailureAction: 'pause', Monitor: 1e9 }, undefined, 5e9);
    again.behaviour = (t) => (t.Spec.ContainerSpec?.Image === 'app:bad' ? 'fail' : 'run');
    update(again, 'app:bad');
    again.advance(3_000);
    expect(rolloutsOf(again.service('web')).map(brief)).toEqual([['update', 'paused', 'app:bad']]);
    for (let i = 0; i < MAX_ROLLOUTS + 2; i++) {
      update(again, `app:v${10 + i}`);
      again.advance(10_000);
    }
    const kept = rolloutsOf(again.service('web'));
    expect(kept).toHaveLength(MAX_ROLLOUTS);
    expect(kept.map((r) => r.Outcome)).toEqual(Array(MAX_ROLLOUTS).fill('completed'));
    expect(kept[0]!.Image).toBe(`app:v${10 + MAX_ROLLOUTS + 1}`);
  });

  it('a rollout cut short by a newer update is superseded, and a manual rollback of a paused one rolls it back', () => {
    const c = deployed(3, { Parallelism: 1, Delay: 5e9, Monitor: 1e9 }, { Parallelism: 0, Monitor: 1e9 });
    update(c, 'app:v2');
    c.advance(1_000);
    update(c, 'app:v3');
    c.advance(60_000);
    expect(rolloutsOf(c.service('web')).map((r) => [r.Outcome, r.Image])).toEqual([
      ['completed', 'app:v3'],
      ['superseded', 'app:v2'],
    ]);
    c.setService(rollbackService(c.service('web'), new Date(c.now).toISOString()));
    expect(rolloutsOf(c.service('web'))[0]).toMatchObject({ Kind: 'rollback', Outcome: 'in_progress' });
    c.advance(30_000);
    expect(rolloutsOf(c.service('web')).map((r) => [r.Kind, r.Outcome])).toEqual([
      ['rollback', 'completed'],
      ['update', 'completed'],
      ['update', 'superseded'],
    ]);

    const p = deployed(1, { Parallelism: 1, FailureAction: 'pause', Monitor: 1e9 }, undefined, 5e9);
    p.behaviour = (t) => (t.Spec.ContainerSpec?.Image === 'app:bad' ? 'fail' : 'run');
    update(p, 'app:bad');
    p.advance(3_000);
    p.setService(rollbackService(p.service('web'), new Date(p.now).toISOString()));
    p.advance(30_000);
    expect(rolloutsOf(p.service('web')).map((r) => [r.Kind, r.Outcome])).toEqual([
      ['rollback', 'completed'],
      ['update', 'rolled_back'],
    ]);
  });

  it('a new leader resumes an update from the store alone', () => {
    const c = deployed(6, { Parallelism: 1, Delay: 5e9, Monitor: 1e9 });
    update(c, 'app:v2');
    c.advance(12_000);
    const midway = imageOf(c, 'web').filter((i) => i === 'app:v2').length;
    expect(midway).toBeGreaterThan(0);
    expect(midway).toBeLessThan(6);
    // The new leader has nothing but the replicated objects.
    const next = new FakeCluster();
    next.now = c.now;
    for (const n of c.nodes.values()) next.addNode(n);
    next.setService(JSON.parse(JSON.stringify(c.service('web'))) as Service);
    for (const t of c.tasks.values()) next.tasks.set(t.ID, structuredClone(t));
    next.advance(60_000);
    expect(imageOf(next, 'web')).toEqual(Array(6).fill('app:v2'));
    expect(next.service('web').UpdateStatus?.State).toBe('completed');
  });

  it('updates a global service node by node', () => {
    const c = new FakeCluster();
    for (let i = 1; i <= 3; i++) c.addNode(node(`n${i}`));
    c.setService(service('web', { Mode: { Global: {} }, UpdateConfig: { Parallelism: 1, Monitor: 0 } }));
    c.settle();
    let minRunning = Number.POSITIVE_INFINITY;
    c.onStep = (cl) => {
      minRunning = Math.min(minRunning, cl.running('web').length);
    };
    update(c, 'app:v2');
    c.advance(10_000);
    expect(minRunning).toBe(2);
    expect(imageOf(c, 'web')).toEqual(Array(3).fill('app:v2'));
    expect(c.service('web').UpdateStatus?.State).toBe('completed');
  });
});
