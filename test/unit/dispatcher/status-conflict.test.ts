// A node's status report that races another write of the same task (it read the task,
// then someone else changed it before the report committed) is applied again to the
// fresh task instead of being lost.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { storeDispatcherPort } from '../../../manager/dispatcher/index.js';
import { createAesGcmCipher, LocalReplicator, Store } from '../../../manager/store/index.js';

describe('dispatcher store port: task statuses', () => {
  it('applies a report again when a concurrent write to the task made it conflict', async () => {
    const store = new Store({ cipher: createAesGcmCipher(randomBytes(32)) });
    const local = new LocalReplicator(store.state);
    let raced = false;
    store.setReplicator({
      // The first status proposal finds the task changed under it (as when the leader
      // loops or the node's previous batch commit first).
      propose: async (data) => {
        if (raced || !new TextDecoder().decode(data).includes('"started"')) return local.propose(data);
        raced = true;
        await store.update((tx) => {
          const t = tx.get('tasks', 't1')!;
          tx.updateTask({ ...t, Labels: { touched: 'yes' } });
        });
        return local.propose(data);
      },
      isLeader: () => true,
      leaderAddr: () => undefined,
      leaderId: () => undefined,
    });
    await store.update((tx) =>
      tx.createTask({
        ID: 't1',
        ServiceID: 's1',
        NodeID: 'n1',
        Spec: { ContainerSpec: { Image: 'busybox' } },
        DesiredState: 'running',
        Status: { State: 'assigned' },
      }),
    );
    const port = storeDispatcherPort(store);
    await port.applyTaskStatuses([{ taskId: 't1', status: { State: 'running', Message: 'started' } }]);
    expect(raced).toBe(true);
    const t = store.getTask('t1')!;
    expect(t.Status.State).toBe('running');
    expect(t.Labels).toEqual({ touched: 'yes' });
  });

  it('commits the reports of many nodes arriving together in a few proposals, not one each', async () => {
    const store = new Store({ cipher: createAesGcmCipher(randomBytes(32)) });
    const local = new LocalReplicator(store.state);
    let proposals = 0;
    store.setReplicator({
      propose: async (data) => {
        proposals++;
        // A round trip through the log: reports arriving meanwhile wait for the next proposal.
        await new Promise((r) => setTimeout(r, 5));
        return local.propose(data);
      },
      isLeader: () => true,
      leaderAddr: () => undefined,
      leaderId: () => undefined,
    });
    await store.update((tx) => {
      for (let i = 0; i < 100; i++)
        tx.createTask({
          ID: `t${i}`,
          ServiceID: 's1',
          NodeID: `n${i}`,
          Spec: { ContainerSpec: { Image: 'busybox' } },
          DesiredState: 'running',
          Status: { State: 'assigned' },
        });
    });
    proposals = 0;
    const port = storeDispatcherPort(store);
    await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        port.applyTaskStatuses([{ taskId: `t${i}`, status: { State: 'running', Message: 'started' } }]),
      ),
    );
    expect(store.listTasks().every((t) => t.Status.State === 'running')).toBe(true);
    expect(proposals).toBeLessThanOrEqual(2);
  });
});
