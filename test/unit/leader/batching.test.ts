// How the leader loops write: a pass's decisions go out as several proposals of bounded
// size, all in flight together; routine task progress does not re-reconcile a service.
import { describe, expect, it } from 'vitest';
import { silentLogger, type Task } from '../../../lib/index.js';
import { LeaderLoops, PASS_SLICE_MS, updateInBatches } from '../../../manager/leader/index.js';
import type { Store } from '../../../manager/store/index.js';
import { addNode, localStore } from './helpers.js';

const task = (id: string) => ({
  ID: id,
  ServiceID: 's1',
  Spec: { ContainerSpec: { Image: 'busybox' } },
  DesiredState: 'running' as const,
  Status: { State: 'new' as const },
});

describe('updateInBatches', () => {
  it('hands the event loop a turn while it builds proposals for longer than a slice', async () => {
    const store = localStore();
    const built: number[] = [];
    // Counts event-loop turns: an immediate that queues the next one runs once per turn.
    let turns = 0;
    let counting = true;
    const count = () => {
      turns++;
      if (counting) setImmediate(count);
    };
    setImmediate(count);
    try {
      const ids = Array.from({ length: 40 }, (_, i) => `t${i}`);
      await updateInBatches(
        store,
        ids,
        (tx, id) => {
          if (id.endsWith('0')) {
            built.push(turns);
            // Each batch takes longer than a slice to build.
            const until = performance.now() + PASS_SLICE_MS + 5;
            while (performance.now() < until) {}
          }
          tx.createTask(task(id));
        },
        10,
      );
    } finally {
      counting = false;
    }
    // The loop turned between the first batch and the last: the pass did not hold it.
    expect(built).toHaveLength(4);
    expect(built.at(-1)!).toBeGreaterThan(built[0]!);
  });

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

describe('orchestration racing a user', () => {
  it("drops a pass's decisions when the service changed before they were written, and decides again", async () => {
    const store = localStore();
    await addNode(store, 'n1');
    const loops = new LeaderLoops(store, silentLogger);
    const spec = (image: string) => ({
      Name: 'web',
      Mode: { Replicated: { Replicas: 2 } },
      TaskTemplate: { ContainerSpec: { Image: image } },
      UpdateConfig: { Parallelism: 1, Order: 'stop-first' as const },
    });
    loops.start();
    try {
      const svc = await store.update((tx) => tx.createService({ Spec: spec('app:1') }));
      await loops.settled();
      // Once the orchestrator has read the service at app:2, a user updates it to app:3
      // before the orchestrator's write goes out: its pass decided from the spec before.
      const realUpdate = store.update.bind(store);
      const realGet = store.getService.bind(store);
      let armed = false;
      let userUpdate: (() => Promise<unknown>) | undefined = () =>
        realUpdate((tx) => {
          const cur = tx.get('services', svc.ID)!;
          tx.update('services', { ...cur, Spec: spec('app:3'), PreviousSpec: cur.Spec });
        });
      store.getService = (id: string) => {
        const s = realGet(id);
        if (s?.Spec.TaskTemplate?.ContainerSpec?.Image === 'app:2' && userUpdate) armed = true;
        return s;
      };
      store.update = (async (fn: Parameters<Store['update']>[0], opts?: { precheck?: boolean }) => {
        if (armed && userUpdate) {
          const u = userUpdate;
          userUpdate = undefined;
          await u();
        }
        return realUpdate(fn, opts);
      }) as Store['update'];
      await realUpdate((tx) => {
        const cur = tx.get('services', svc.ID)!;
        tx.update('services', { ...cur, Spec: spec('app:2'), PreviousSpec: cur.Spec });
      });
      await loops.settled();
      expect(userUpdate).toBeUndefined();
      const now = store.getService(svc.ID)!;
      // The user's last word stands, and the orchestrator rolls it out.
      expect(now.Spec.TaskTemplate?.ContainerSpec?.Image).toBe('app:3');
      expect(now.UpdateStatus?.State).toBe('updating');
      const live = store
        .listTasks()
        .filter((t) => t.DesiredState === 'running' || t.DesiredState === 'ready');
      expect(live.some((t) => t.Spec.ContainerSpec?.Image === 'app:3')).toBe(true);
      expect(live.some((t) => t.Spec.ContainerSpec?.Image === 'app:2')).toBe(false);
    } finally {
      await loops.stop();
    }
  });
});
