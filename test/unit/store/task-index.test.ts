// The store's per-service and per-node task indexes: reads by service or node give what
// a full scan gives, through creates, moves between nodes, deletes, rejected batches and
// snapshot restores.
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Task } from '../../../lib/index.js';
import { createAesGcmCipher, LocalReplicator, Store } from '../../../manager/store/index.js';

function newStore(): Store {
  const store = new Store({ cipher: createAesGcmCipher(randomBytes(32)) });
  store.setReplicator(new LocalReplicator(store.state));
  return store;
}

const task = (id: string, serviceId: string, nodeId?: string) => ({
  ID: id,
  ServiceID: serviceId,
  ...(nodeId ? { NodeID: nodeId } : {}),
  Spec: { ContainerSpec: { Image: 'busybox' } },
  DesiredState: 'running' as const,
  Status: { State: 'new' as const },
});

const ids = (tasks: Task[]) => tasks.map((t) => t.ID).sort();
const scan = (store: Store, p: (t: Task) => boolean) => ids(store.listTasks().filter(p));

function expectIndexMatchesScan(store: Store, services: string[], nodes: string[]): void {
  for (const s of services) {
    expect(ids(store.listTasks({ serviceId: s }))).toEqual(scan(store, (t) => t.ServiceID === s));
    for (const n of nodes) {
      expect(ids(store.listTasks({ serviceId: s, nodeId: n }))).toEqual(
        scan(store, (t) => t.ServiceID === s && t.NodeID === n),
      );
    }
  }
  for (const n of nodes) {
    expect(ids(store.listTasks({ nodeId: n }))).toEqual(scan(store, (t) => t.NodeID === n));
  }
}

describe('store task indexes', () => {
  it('answers by service and by node, follows a task to another node and forgets deleted tasks', async () => {
    const store = newStore();
    await store.update((tx) => {
      tx.createTask(task('t1', 's1'));
      tx.createTask(task('t2', 's1', 'n1'));
      tx.createTask(task('t3', 's2', 'n1'));
    });
    expect(ids(store.listTasks({ serviceId: 's1' }))).toEqual(['t1', 't2']);
    expect(ids(store.listTasks({ nodeId: 'n1' }))).toEqual(['t2', 't3']);

    await store.update((tx) => tx.updateTask({ ...tx.get('tasks', 't1')!, NodeID: 'n2' }));
    await store.update((tx) => tx.updateTask({ ...tx.get('tasks', 't2')!, NodeID: 'n2' }));
    expect(ids(store.listTasks({ nodeId: 'n1' }))).toEqual(['t3']);
    expect(ids(store.listTasks({ nodeId: 'n2' }))).toEqual(['t1', 't2']);

    await store.update((tx) => tx.deleteTask('t3'));
    expect(store.listTasks({ serviceId: 's2' })).toEqual([]);
    expect(store.listTasks({ nodeId: 'n1' })).toEqual([]);
    expect(store.listTasks({ serviceId: 'nope' })).toEqual([]);
  });

  it('keeps the order tasks were created in when they change', async () => {
    const store = newStore();
    await store.update((tx) => {
      for (const id of ['a', 'b', 'c']) tx.createTask(task(id, 's1', 'n1'));
    });
    await store.update((tx) => tx.updateTask({ ...tx.get('tasks', 'a')!, DesiredState: 'shutdown' }));
    expect(store.listTasks({ serviceId: 's1' }).map((t) => t.ID)).toEqual(['a', 'b', 'c']);
  });

  it('leaves the index alone when a batch is rejected', async () => {
    const store = newStore();
    await store.update((tx) => tx.createTask(task('t1', 's1', 'n1')));
    const stale = store.getTask('t1')!;
    await store.update((tx) => tx.updateTask({ ...tx.get('tasks', 't1')!, Status: { State: 'pending' } }));
    // A batch that moves t1 and creates t2, with t1 at a stale version: nothing applies.
    await expect(
      store.update((tx) => {
        tx.createTask(task('t2', 's1', 'n2'));
        tx.updateTask({ ...stale, NodeID: 'n2' });
      }),
    ).rejects.toMatchObject({ code: 'conflict' });
    expect(ids(store.listTasks({ nodeId: 'n1' }))).toEqual(['t1']);
    expect(store.listTasks({ nodeId: 'n2' })).toEqual([]);
    expect(ids(store.listTasks({ serviceId: 's1' }))).toEqual(['t1']);
  });

  it('is rebuilt from a snapshot', async () => {
    const a = newStore();
    await a.update((tx) => {
      tx.createTask(task('t1', 's1', 'n1'));
      tx.createTask(task('t2', 's2', 'n2'));
    });
    const b = newStore();
    await b.update((tx) => tx.createTask(task('old', 's1', 'n1')));
    b.state.restore(a.state.snapshot());
    expect(ids(b.listTasks({ serviceId: 's1' }))).toEqual(['t1']);
    expect(ids(b.listTasks({ nodeId: 'n2' }))).toEqual(['t2']);
    expect(b.listTasks({ nodeId: 'n1', serviceId: 's2' })).toEqual([]);
  });

  it('always agrees with a full scan (random creates, moves and deletes)', async () => {
    const services = ['s1', 's2', 's3'];
    const nodes = ['n1', 'n2', 'n3'];
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('create' as const),
        id: fc.integer({ min: 0, max: 15 }),
        s: fc.constantFrom(...services),
        n: fc.option(fc.constantFrom(...nodes), { nil: undefined }),
      }),
      fc.record({
        kind: fc.constant('move' as const),
        id: fc.integer({ min: 0, max: 15 }),
        n: fc.option(fc.constantFrom(...nodes), { nil: undefined }),
      }),
      fc.record({ kind: fc.constant('delete' as const), id: fc.integer({ min: 0, max: 15 }) }),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(op, { minLength: 1, maxLength: 4 }), { maxLength: 25 }),
        async (batches) => {
          const store = newStore();
          for (const batch of batches) {
            await store
              .update((tx) => {
                for (const o of batch) {
                  const id = `t${o.id}`;
                  const cur = tx.get('tasks', id);
                  if (o.kind === 'create' && !cur) tx.createTask(task(id, o.s, o.n));
                  else if (o.kind === 'move' && cur) {
                    const { NodeID: _old, ...rest } = cur;
                    tx.updateTask(o.n ? { ...rest, NodeID: o.n } : rest);
                  } else if (o.kind === 'delete' && cur) tx.deleteTask(id);
                }
              })
              .catch(() => {});
            expectIndexMatchesScan(store, services, nodes);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
