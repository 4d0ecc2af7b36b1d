// How the leader loops write: a pass's decisions go out as several proposals of bounded
// size, all in flight together; routine task progress does not re-reconcile a service.
import { describe, expect, it } from 'vitest';
import { silentLogger, type Task } from '../../../lib/index.js';
import { LeaderLoops, updateInBatches } from '../../../manager/leader/index.js';
import { addNode, localStore } from './helpers.js';

const task = (id: string) => ({
  ID: id,
  ServiceID: 's1',
  Spec: { ContainerSpec: { Image: 'busybox' } },
  DesiredState: 'running' as const,
  Status: { State: 'new' as const },
});

describe('updateInBatches', () => {
  it('commits every item, at most `size` per proposal', async () => {
    const store = localStore();
    const indexes = new Set<number>();
    store.subscribe((e) => indexes.add(e.index));
    const ids = Array.from({ length: 25 }, (_, i) => `t${i}`);
    await updateInBatches(store, ids, (tx, id) => tx.createTask(task(id)), 10);
    expect(
      store
        .listTasks()
        .map((t) => t.ID)
        .sort(),
    ).toEqual([...ids].sort());
    expect(indexes.size).toBe(3);
  });

  it('rejects when a batch fails, after the others were committed', async () => {
    const store = localStore();
    await store.update((tx) => tx.createTask(task('t3')));
    const attempt = updateInBatches(
      store,
      ['t0', 't1', 't2', 't3', 't4'],
      (tx, id) => tx.createTask(task(id)),
      2,
    );
    await expect(attempt).rejects.toMatchObject({ code: 'already_exists' });
    // Batches [t0 t1] [t2 t3] [t4]: the one with t3 changed nothing, the others went through.
    expect(
      store
        .listTasks()
        .map((t) => t.ID)
        .sort(),
    ).toEqual(['t0', 't1', 't3', 't4']);
  });
});

describe('orchestration under routine task progress', () => {
  it('creates the replicas once and leaves them alone while they move to running', async () => {
    const store = localStore();
    await addNode(store, 'n1');
    const loops = new LeaderLoops(store, silentLogger);
    loops.start();
    try {
      await store.update((tx) =>
        tx.createService({
          Spec: {
            Name: 'web',
            Mode: { Replicated: { Replicas: 3 } },
            TaskTemplate: { ContainerSpec: { Image: 'busybox' } },
          },
        }),
      );
      await loops.settled();
      const assigned = store.listTasks();
      expect(assigned.map((t) => t.Status.State)).toEqual(['assigned', 'assigned', 'assigned']);
      // An agent reports them running: each write is a task moving forward on its node.
      const writes: Task[] = [];
      const unsubscribe = store.subscribe((e) => {
        if (e.table === 'tasks') writes.push(e.object as Task);
      });
      for (const t of assigned) {
        await store.update((tx) => {
          const cur = tx.get('tasks', t.ID)!;
          tx.updateTask({ ...cur, Status: { State: 'running', Message: 'started', Timestamp: tx.now } });
        });
      }
      await loops.settled();
      unsubscribe();
      // Only the agent's three writes: no loop wrote anything in reply.
      expect(writes.map((t) => t.Status.State)).toEqual(['running', 'running', 'running']);
      expect(store.listTasks().every((t) => t.Status.State === 'running')).toBe(true);

      // A task that fails is still replaced (after the default restart delay: the
      // replacement waits in desired state 'ready').
      const failed = store.listTasks()[0]!;
      await store.update((tx) => {
        const cur = tx.get('tasks', failed.ID)!;
        tx.updateTask({ ...cur, Status: { State: 'failed', Err: 'exit 1', Timestamp: tx.now } });
      });
      await loops.settled();
      const replacement = store.listTasks().find((t) => t.Slot === failed.Slot && t.ID !== failed.ID);
      expect(replacement?.DesiredState).toMatch(/^(ready|running)$/);
    } finally {
      await loops.stop();
    }
  });
});
