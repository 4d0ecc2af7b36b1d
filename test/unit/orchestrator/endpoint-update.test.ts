// A change of the service's published ports reaches running tasks through the rolling
// update (as in Swarm); changes that do not reach a task replace none.

import { describe, expect, it } from 'vitest';
import type { PortConfig, ServiceSpec, Task, UpdateState } from '../../../lib/index.js';
import { applyServiceUpdate, reconcileService } from '../../../manager/orchestrator/index.js';
import { FakeCluster } from './fake-cluster.js';
import { node, service, T0 } from './fixtures.js';

const PORT_80: PortConfig = { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' };

function deployed(replicas: number, ports: PortConfig[] = [PORT_80]): FakeCluster {
  const c = new FakeCluster();
  for (let i = 1; i <= 3; i++) c.addNode(node(`n${i}`));
  c.setService(
    service('web', {
      Mode: { Replicated: { Replicas: replicas } },
      UpdateConfig: { Parallelism: 2, Order: 'stop-first', Monitor: 1e9 },
      EndpointSpec: { Ports: ports },
    }),
  );
  c.settle();
  expect(c.running('web')).toHaveLength(replicas);
  return c;
}

function updateSpec(c: FakeCluster, change: (spec: ServiceSpec) => void): void {
  const s = c.service('web');
  const spec = structuredClone(s.Spec);
  change(spec);
  c.setService(applyServiceUpdate(s, spec, new Date(c.now).toISOString()));
}

const runningIds = (c: FakeCluster): string[] =>
  c
    .running('web')
    .map((t) => t.ID)
    .sort();

const publishedOf = (t: Task): number[] =>
  (t.Endpoint?.Spec?.Ports ?? []).map((p) => p.PublishedPort ?? 0).sort();

describe('published ports and the rolling update', () => {
  it('adding a published port replaces the tasks per UpdateConfig, and they publish it', () => {
    const c = deployed(4);
    const before = runningIds(c);
    let minRunning = Number.POSITIVE_INFINITY;
    const states: UpdateState[] = [];
    c.onStep = (cl) => {
      minRunning = Math.min(minRunning, cl.running('web').length);
      const st = cl.service('web').UpdateStatus?.State;
      if (st && states.at(-1) !== st) states.push(st);
    };
    updateSpec(c, (spec) => {
      spec.EndpointSpec = { Ports: [PORT_80, { ...PORT_80, TargetPort: 80, PublishedPort: 8081 }] };
    });
    c.advance(30_000);

    const after = c.running('web');
    expect(after).toHaveLength(4);
    expect(after.filter((t) => before.includes(t.ID))).toEqual([]);
    for (const t of after) expect(publishedOf(t)).toEqual([8080, 8081]);
    expect(states).toEqual(['updating', 'completed']);
    // Stop-first with parallelism 2: never more than 2 replicas down at once.
    expect(minRunning).toBe(2);
  });

  it('removing every published port also rolls the tasks', () => {
    const c = deployed(2);
    const before = runningIds(c);
    updateSpec(c, (spec) => {
      spec.EndpointSpec = undefined;
    });
    c.advance(30_000);
    const after = c.running('web');
    expect(after).toHaveLength(2);
    expect(after.some((t) => before.includes(t.ID))).toBe(false);
    for (const t of after) expect(publishedOf(t)).toEqual([]);
    expect(c.service('web').UpdateStatus?.State).toBe('completed');
  });

  it('joining another network rolls the tasks too (networks are part of the task spec)', () => {
    const c = deployed(2);
    const before = runningIds(c);
    updateSpec(c, (spec) => {
      spec.TaskTemplate = { ...spec.TaskTemplate, Networks: [{ Target: 'backend' }] };
    });
    c.advance(30_000);
    const after = c.running('web');
    expect(after).toHaveLength(2);
    expect(after.some((t) => before.includes(t.ID))).toBe(false);
    for (const t of after) expect(t.Spec.Networks).toEqual([{ Target: 'backend' }]);
    expect(c.service('web').UpdateStatus?.State).toBe('completed');
  });

  it('a label on the service or a new replica count replaces no task', () => {
    const c = deployed(3);
    const before = runningIds(c);
    updateSpec(c, (spec) => {
      spec.Labels = { team: 'web' };
      spec.UpdateConfig = { Parallelism: 1 };
    });
    c.advance(10_000);
    expect(runningIds(c)).toEqual(before);
    expect(c.service('web').UpdateStatus).toBeUndefined();

    updateSpec(c, (spec) => {
      spec.Mode = { Replicated: { Replicas: 5 } };
    });
    c.advance(10_000);
    const after = runningIds(c);
    expect(after).toHaveLength(5);
    expect(before.every((id) => after.includes(id))).toBe(true);
    expect(c.service('web').UpdateStatus).toBeUndefined();
  });

  it('tasks read back from the store (a new leader) are current: defaults spelled out, ports reordered, no endpoint yet', () => {
    // The service as the API stored it, ports in another order and defaults left out.
    const s = service('web', {
      Mode: { Replicated: { Replicas: 3 } },
      EndpointSpec: {
        Ports: [
          { TargetPort: 443, PublishedPort: 8443 },
          { TargetPort: 80, PublishedPort: 8080 },
        ],
      },
    });
    const task = (slot: number, endpoint: Task['Endpoint']): Task => ({
      ID: `t${slot}`,
      Version: { Index: 5 },
      CreatedAt: T0,
      UpdatedAt: T0,
      Name: `web.${slot}`,
      Spec: structuredClone(s.Spec.TaskTemplate!),
      ServiceID: 'web',
      Slot: slot,
      NodeID: 'n1',
      Status: { State: slot === 3 ? 'new' : 'running', Timestamp: T0 },
      DesiredState: 'running',
      ...(endpoint ? { Endpoint: endpoint } : {}),
    });
    const allocated = {
      Spec: {
        Mode: 'vip' as const,
        Ports: [
          { Protocol: 'tcp' as const, TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' as const },
          { Protocol: 'tcp' as const, TargetPort: 443, PublishedPort: 8443, PublishMode: 'ingress' as const },
        ],
      },
    };
    const changes = reconcileService(
      {
        service: s,
        tasks: [task(1, allocated), task(2, allocated), task(3, undefined)],
        nodes: [node('n1')],
      },
      { now: Date.parse(T0) + 60_000, newId: () => 'fresh' },
    );
    expect(changes.create).toEqual([]);
    expect(changes.update).toEqual([]);
    expect(changes.serviceUpdates).toEqual([]);

    // The same tasks against a service that now publishes another port are outdated.
    const moved = structuredClone(s);
    moved.Spec.EndpointSpec = { Ports: [{ TargetPort: 80, PublishedPort: 9090 }] };
    const outdated = reconcileService(
      { service: moved, tasks: [task(1, allocated), task(2, allocated)], nodes: [node('n1')] },
      { now: Date.parse(T0) + 60_000, newId: () => 'fresh' },
    );
    expect(outdated.serviceUpdates[0]?.UpdateStatus?.State).toBe('updating');
  });
});
