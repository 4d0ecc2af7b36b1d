// A manager that starts as its raft group's only member (restored or forced new
// cluster) demotes the old group's managers in the store; a pending promotion stays.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { bootstrapCluster, createRootCa } from '../../../manager/ca/index.js';
import { createAesGcmCipher, LocalReplicator, Store } from '../../../manager/store/index.js';

async function clusterOfThreeManagers() {
  const store = new Store({ cipher: createAesGcmCipher(randomBytes(32)) });
  store.setReplicator(new LocalReplicator(store.state, { id: 'm1' }));
  const ca = createRootCa({ clusterId: 'c1' });
  const o = { hostname: 'h', engineVersion: 't', rootCaPem: ca.certPem, clusterId: 'c1' };
  await bootstrapCluster(store, { ...o, nodeId: 'm1', addr: '10.0.0.1:2377' });
  await store.update((tx) => {
    for (const id of ['m2', 'm3']) {
      tx.createNode({
        ID: id,
        Spec: { Labels: {}, Role: 'manager', Availability: 'active' },
        Status: { State: 'down', Addr: '10.0.0.9' },
        ManagerStatus: { Reachability: 'unreachable', Addr: '10.0.0.9:2377' },
      });
    }
    // Promoted in the store, not yet a raft member.
    tx.createNode({
      ID: 'w1',
      Spec: { Labels: {}, Role: 'manager', Availability: 'active' },
      Status: { State: 'ready', Addr: '10.0.0.8' },
    });
  });
  return { store, o };
}

describe('bootstrapCluster', () => {
  it('demotes the managers of an old raft group when this manager is the only member', async () => {
    const { store, o } = await clusterOfThreeManagers();
    await bootstrapCluster(store, { ...o, nodeId: 'm3', addr: '10.0.0.3:2377', soleManager: true });
    const role = (id: string) => store.getNode(id)?.Spec.Role;
    expect(['m1', 'm2', 'm3', 'w1'].map(role)).toEqual(['worker', 'worker', 'manager', 'manager']);
    expect(store.listNodes((n) => n.ManagerStatus !== undefined).map((n) => n.ID)).toEqual(['m3']);
  });

  it('leaves the other managers alone in a group of several', async () => {
    const { store, o } = await clusterOfThreeManagers();
    await bootstrapCluster(store, { ...o, nodeId: 'm1', addr: '10.0.0.1:2377' });
    expect(
      store
        .listNodes((n) => n.ManagerStatus !== undefined)
        .map((n) => n.ID)
        .sort(),
    ).toEqual(['m1', 'm2', 'm3']);
  });
});
