// The orchestration loop decides from the store as it read it, and other writers (the
// scheduler, agents' reports) commit meanwhile. Found by the chaos run (seeds 1 and 7): a
// pending task scaled away was written as "shut down before it was scheduled", without
// a node, over the scheduler's assignment that had already reached an agent; the agent
// never heard of it again and its container ran for ever.
import { afterEach, describe, expect, it } from 'vitest';
import type { ServiceSpec, Task } from '../../../lib/index.js';
import { silentLogger } from '../../../lib/index.js';
import { OrchestrationLoop } from '../../../manager/leader/index.js';
import type { Store, Transaction } from '../../../manager/store/index.js';
import { addNode, localStore } from './helpers.js';

const spec = (replicas: number): ServiceSpec => ({
  Name: 'web',
  Mode: { Replicated: { Replicas: replicas } },
  TaskTemplate: { ContainerSpec: { Image: 'busybox' } },
});

/** Runs `write` once, just before the next store write (another writer getting there first). */
function before(store: Store, write: (tx: Transaction) => void): void {
  const update = store.update.bind(store);
  let armed = true;
  store.update = (async (fn: (tx: Transaction) => unknown, opts?: { precheck?: boolean }) => {
    if (armed) {
      armed = false;
      await update(write);
    }
    return update(fn, opts);
  }) as Store['update'];
}

describe('orchestration decisions over a task that changed since they were made', () => {
  const loops: OrchestrationLoop[] = [];
  afterEach(async () => {
    for (const l of loops.splice(0)) await l.stop();
  });

  it('keeps the node of a task the scheduler assigned meanwhile, and asks that node to stop it', async () => {
    const store = localStore();
    await addNode(store, 'n1');
    const svc = await store.update((tx) => tx.createService({ Spec: spec(1) }));
    const task = await store.update((tx) =>
      tx.createTask({
        Spec: spec(1).TaskTemplate!,
        ServiceID: svc.ID,
        Slot: 1,
        Status: { State: 'pending', Message: 'allocated' },
        DesiredState: 'running',
      }),
    );
    await store.update((tx) => tx.updateService({ ...tx.get('services', svc.ID)!, Spec: spec(0) }));

    // The loop reads the task pending; the scheduler commits its assignment before the loop writes.
    before(store, (tx) => {
      const t = tx.get('tasks', task.ID)!;
      tx.update('tasks', { ...t, NodeID: 'n1', Status: { State: 'assigned', Message: 'assigned' } });
    });
    const loop = new OrchestrationLoop(store, silentLogger);
    loops.push(loop);
    loop.start();
    await loop.settled();

    // Not deleted as a dead task no node holds: the agent that has it would never hear of it.
    const t = store.getTask(task.ID) as Task;
    expect(t).toBeDefined();
    expect(t.NodeID).toBe('n1');
    expect(t.DesiredState).toBe('shutdown');
    // Not "shut down before it was scheduled": an agent has it, and reports its stop.
    expect(t.Status.State).toBe('assigned');
  });
});
