import { describe, expect, it } from 'vitest';
import type { Service, Task } from '../../../lib/index.js';
import { applyServiceUpdate, newJobStatus } from '../../../manager/orchestrator/index.js';
import { FakeCluster } from './fake-cluster.js';
import { node, service, withImage } from './fixtures.js';

const completed = (c: FakeCluster, id: string): Task[] =>
  c.tasksOf(id).filter((t) => t.Status.State === 'complete');
const active = (c: FakeCluster, id: string): Task[] =>
  c
    .tasksOf(id)
    .filter((t) => ['assigned', 'starting', 'running', 'pending', 'new', 'ready'].includes(t.Status.State!));

describe('replicated jobs', () => {
  it('runs TotalCompletions tasks to completion, at most MaxConcurrent at a time', () => {
    const c = new FakeCluster();
    for (let i = 1; i <= 3; i++) c.addNode(node(`n${i}`));
    c.setService(service('migrate', { Mode: { ReplicatedJob: { MaxConcurrent: 2, TotalCompletions: 5 } } }));
    let maxActive = 0;
    c.onStep = (cl) => {
      maxActive = Math.max(maxActive, active(cl, 'migrate').length);
    };
    c.behaviour = () => 'complete';
    c.advance(10_000);
    expect(
      completed(c, 'migrate')
        .map((t) => t.Slot)
        .sort(),
    ).toEqual([1, 2, 3, 4, 5]);
    expect(c.tasksOf('migrate')).toHaveLength(5);
    expect(maxActive).toBe(2);
    expect(c.tasksOf('migrate').every((t) => t.DesiredState === 'complete')).toBe(true);
  });

  it('restarts a failed job task on failure, and counts only successes', () => {
    const c = new FakeCluster();
    c.addNode(node('n1'));
    const s = service('migrate', { Mode: { ReplicatedJob: { TotalCompletions: 2 } } });
    s.Spec.TaskTemplate!.RestartPolicy = { Delay: 1e9 };
    c.setService(s);
    // The first task of each slot fails; its replacement succeeds.
    const firstOfSlot = new Map<number, string>();
    c.behaviour = (t) => {
      if (!firstOfSlot.has(t.Slot!)) firstOfSlot.set(t.Slot!, t.ID);
      return firstOfSlot.get(t.Slot!) === t.ID ? 'fail' : 'complete';
    };
    c.advance(20_000);
    expect(completed(c, 'migrate')).toHaveLength(2);
    expect(c.tasksOf('migrate').filter((t) => t.Status.State === 'failed')).toHaveLength(2);
  });

  it('a new job iteration stops the old one and runs again', () => {
    const c = new FakeCluster();
    c.addNode(node('n1'));
    c.setService(service('job', { Mode: { ReplicatedJob: { TotalCompletions: 1 } } }));
    c.behaviour = () => 'hang';
    c.settle();
    const first = c.tasksOf('job')[0]!;
    c.setService({ ...c.service('job'), JobStatus: { JobIteration: { Index: 1 } } });
    c.behaviour = () => 'complete';
    c.settle();
    expect(c.tasks.get(first.ID)!.Status.State).toBe('shutdown');
    const again = c.tasksOf('job').filter((t) => t.JobIteration?.Index === 1);
    expect(again.map((t) => t.Status.State)).toEqual(['complete']);
  });
});

describe('global jobs', () => {
  it('runs once on every node, including a node that joins later', () => {
    const c = new FakeCluster();
    c.addNode(node('n1'));
    c.addNode(node('n2'));
    c.setService(service('prune', { Mode: { GlobalJob: {} } }));
    c.behaviour = () => 'complete';
    c.settle();
    expect(
      completed(c, 'prune')
        .map((t) => t.NodeID)
        .sort(),
    ).toEqual(['n1', 'n2']);
    c.addNode(node('n3'));
    c.settle();
    expect(
      completed(c, 'prune')
        .map((t) => t.NodeID)
        .sort(),
    ).toEqual(['n1', 'n2', 'n3']);
    expect(c.tasksOf('prune')).toHaveLength(3);
  });
});

describe('job runs on update (applyServiceUpdate)', () => {
  const NOW = '2026-01-01T00:05:00.000Z';
  const created = (): Service => ({
    ...service('migrate', { Mode: { ReplicatedJob: { TotalCompletions: 1 } } }),
    ...newJobStatus({ Mode: { ReplicatedJob: {} } }, '2026-01-01T00:00:00.000Z'),
  });

  it('runs a job again when its spec changes, ForceUpdate included', () => {
    const s = created();
    const changed = applyServiceUpdate(s, withImage(s, 'app:v2'), NOW);
    expect(changed.JobStatus).toEqual({ JobIteration: { Index: 1 }, LastExecution: NOW });
    const forced = structuredClone(s.Spec);
    forced.TaskTemplate = { ...forced.TaskTemplate, ForceUpdate: 1 };
    expect(applyServiceUpdate(s, forced, NOW).JobStatus?.JobIteration.Index).toBe(1);
  });

  it('does not run it again for the same spec (a re-deploy)', () => {
    const s = created();
    expect(applyServiceUpdate(s, structuredClone(s.Spec), NOW).JobStatus).toEqual(s.JobStatus);
  });

  it('leaves services that are not jobs without a JobStatus', () => {
    const s = service('web');
    expect(applyServiceUpdate(s, withImage(s, 'app:v2'), NOW).JobStatus).toBeUndefined();
    expect(newJobStatus(s.Spec, NOW)).toEqual({});
  });
});
