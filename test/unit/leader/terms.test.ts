// Leadership comes and goes: the leader loops stop when this manager stops leading and
// run again, from the store as it is then, when it leads again.
import { describe, expect, it } from 'vitest';
import { SkiffError, silentLogger } from '../../../lib/index.js';
import { ControlLoop, LeaderLoops } from '../../../manager/leader/index.js';
import { waitFor } from '../../lab/index.js';
import { addNode, localStore } from './helpers.js';

const web = (replicas: number) => ({
  Name: 'web',
  Mode: { Replicated: { Replicas: replicas } },
  TaskTemplate: { ContainerSpec: { Image: 'busybox' } },
});

describe('leader loops over terms of leadership', () => {
  it('orchestrate and schedule again after a stop and a new start', async () => {
    const store = localStore();
    await addNode(store, 'n1');
    const loops = new LeaderLoops(store, silentLogger);
    loops.start();
    try {
      await store.update((tx) => tx.createService({ Spec: web(2) }));
      await loops.settled();
      expect(store.listTasks().map((t) => t.Status.State)).toEqual(['assigned', 'assigned']);

      // Another manager leads for a while; meanwhile the service is scaled up.
      await loops.stop();
      const svc = store.listServices()[0]!;
      await store.update((tx) => tx.updateService({ ...svc, Spec: web(4) }));
      expect(store.listTasks()).toHaveLength(2);

      // This manager leads again: the loops see the change made while they were stopped.
      loops.start();
      await waitFor(() => store.listTasks().filter((t) => t.Status.State === 'assigned').length === 4, {
        what: 'four assigned tasks after leading again',
      });
    } finally {
      await loops.stop();
    }
  });
});

describe('a new leader and the tasks of a service removed under the old one', () => {
  // Found by the chaos run (seed 1): the leader committed a service's removal and was
  // killed before its loops wound the tasks down; the next leader never looked at tasks
  // whose service is gone, so they ran for ever.
  it('winds them down when it starts leading', async () => {
    const store = localStore();
    await addNode(store, 'n1');
    const loops = new LeaderLoops(store, silentLogger);
    loops.start();
    try {
      await store.update((tx) => tx.createService({ Spec: web(2) }));
      await loops.settled();
      // The agent runs them.
      await store.update((tx) => {
        for (const t of tx.list('tasks'))
          tx.update('tasks', { ...t, Status: { ...t.Status, State: 'running' } });
      });
      await loops.settled();
      // The old leader's last act: the removal, and no loop saw it.
      await loops.stop();
      const svc = store.listServices()[0]!;
      await store.update((tx) => tx.deleteService(svc.ID));
      expect(store.listTasks().map((t) => t.DesiredState)).toEqual(['running', 'running']);

      loops.start();
      await waitFor(() => store.listTasks().every((t) => t.DesiredState === 'remove'), {
        what: 'the tasks of the removed service to be asked to be removed',
      });
    } finally {
      await loops.stop();
    }
  });
});

describe('a control loop whose pass finds this manager not leading', () => {
  it('runs again on the next kick (leadership may come back before the loops are stopped)', async () => {
    let leading = false;
    let passes = 0;
    const loop = new ControlLoop(
      'test',
      async () => {
        passes++;
        if (!leading) throw new SkiffError('not_leader', 'this manager is not the leader');
      },
      silentLogger,
    );
    loop.kick();
    await loop.settled();
    expect(passes).toBe(1);
    leading = true;
    loop.kick();
    await loop.settled();
    expect(passes).toBe(2);
    await loop.stop();
    loop.kick();
    await loop.settled();
    expect(passes).toBe(2);
  });
});
