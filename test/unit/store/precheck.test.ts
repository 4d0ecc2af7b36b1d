// Store.update checks writes before proposing them, unless asked not to: then the
// same error comes back from apply, after a trip through the log, and nothing changes.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createAesGcmCipher, LocalReplicator, Store } from '../../../manager/store/index.js';

function counted() {
  const store = new Store({ cipher: createAesGcmCipher(randomBytes(32)) });
  const local = new LocalReplicator(store.state);
  let proposals = 0;
  store.setReplicator({
    propose: (data) => {
      proposals++;
      return local.propose(data);
    },
    isLeader: () => true,
    leaderAddr: () => undefined,
    leaderId: () => undefined,
  });
  return { store, proposals: () => proposals };
}

const spec = { Name: 'web', TaskTemplate: { ContainerSpec: { Image: 'busybox' } } };

describe('store update precheck', () => {
  it('refuses a bad write without proposing it by default', async () => {
    const { store, proposals } = counted();
    await store.update((tx) => tx.createService({ Spec: spec }));
    await expect(store.update((tx) => tx.createService({ Spec: spec }))).rejects.toMatchObject({
      code: 'already_exists',
    });
    expect(proposals()).toBe(1);
  });

  it('with precheck off, the write goes through the log and apply refuses it', async () => {
    const { store, proposals } = counted();
    await store.update((tx) => tx.createService({ Spec: spec }));
    const before = store.appliedIndex;
    await expect(
      store.update((tx) => tx.createService({ Spec: { ...spec, Labels: { a: 'b' } } }), { precheck: false }),
    ).rejects.toMatchObject({ code: 'already_exists' });
    expect(proposals()).toBe(2);
    expect(store.appliedIndex).toBe(before + 1);
    expect(store.listServices()).toHaveLength(1);
    expect(store.listServices()[0]!.Spec.Labels).toBeUndefined();
  });
});
