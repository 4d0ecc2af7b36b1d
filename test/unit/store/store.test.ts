import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isSkiffError, type ServiceSpec, SkiffError } from '../../../lib/index.js';
import { createAesGcmCipher, LocalReplicator, Store, type StoreEvent } from '../../../manager/store/index.js';
import { LogReplicator } from './log-replicator.js';

const FIXED = new Date('2026-01-02T03:04:05.000Z');

function newStore(key = randomBytes(32)) {
  const store = new Store({ cipher: createAesGcmCipher(key), clock: () => FIXED });
  const rec = new LogReplicator(store);
  store.setReplicator(rec);
  return { store, rec, key };
}

const spec = (name: string, replicas = 1): ServiceSpec => ({
  Name: name,
  TaskTemplate: { ContainerSpec: { Image: 'busybox' } },
  Mode: { Replicated: { Replicas: replicas } },
});

async function rejection(p: Promise<unknown>): Promise<SkiffError> {
  try {
    await p;
  } catch (e) {
    if (isSkiffError(e)) return e;
    throw e;
  }
  throw new Error('expected a rejection');
}

describe('store writes', () => {
  it('creates objects with Docker-style IDs, proposer timestamps and the log index as version', async () => {
    const { store } = newStore();
    const created = await store.update((tx) => tx.createService({ Spec: spec('web') }));
    expect(created.ID).toMatch(/^[0-9a-z]{25}$/);
    const svc = store.getService('web');
    expect(svc?.ID).toBe(created.ID);
    expect(svc?.CreatedAt).toBe(FIXED.toISOString());
    expect(svc?.UpdatedAt).toBe(FIXED.toISOString());
    expect(svc?.Version.Index).toBe(1);
    expect(store.getService(created.ID.slice(0, 6))?.ID).toBe(created.ID);
    expect(Object.isFrozen(svc?.Spec)).toBe(true);
    expect(store.view().getService('web')).toBe(svc);
  });

  it('rejects an update based on a stale version with conflict and keeps the newer object', async () => {
    const { store } = newStore();
    await store.update((tx) => tx.createService({ Spec: spec('web', 1) }));
    const v1 = store.getService('web')!;
    await store.update((tx) => tx.updateService({ ...v1, Spec: spec('web', 2) }));
    const err = await rejection(store.update((tx) => tx.updateService({ ...v1, Spec: spec('web', 7) })));
    expect(err.code).toBe('conflict');
    expect(store.getService('web')?.Spec.Mode?.Replicated?.Replicas).toBe(2);
  });

  it('applies a batch all-or-nothing', async () => {
    const { store, rec } = newStore();
    await store.update((tx) => tx.createService({ Spec: spec('a') }));
    const err = await rejection(
      store.update((tx) => {
        tx.createService({ Spec: spec('b') });
        tx.createService({ Spec: spec('a') });
      }),
    );
    expect(err.code).toBe('already_exists');
    expect(store.listServices().map((s) => s.Spec.Name)).toEqual(['a']);
    expect(rec.entries).toHaveLength(1); // rejected before it reached the log
  });

  it('keeps names unique across renames, removals and a restore from a snapshot (name index)', async () => {
    const { store } = newStore();
    await store.update((tx) => tx.createService({ Spec: spec('a') }));
    const a = store.getService('a')!;
    // Renamed: the old name is free, the new one taken.
    await store.update((tx) => tx.updateService({ ...a, Spec: spec('b') }));
    await store.update((tx) => tx.createService({ Spec: spec('a') }));
    expect((await rejection(store.update((tx) => tx.createService({ Spec: spec('b') })))).code).toBe(
      'already_exists',
    );
    // A rename and a create of the old name in one batch.
    const x = store.getService('a')!;
    await store.update((tx) => {
      tx.updateService({ ...x, Spec: spec('c') });
      tx.createService({ Spec: spec('a') });
    });
    const y = store.getService('a')!;
    expect(y.ID).not.toBe(x.ID);
    // Removed: its name is free again.
    await store.update((tx) => tx.deleteService(y.ID));
    await store.update((tx) => tx.createService({ Spec: spec('a') }));
    // A manager restored from a snapshot knows the names too.
    const restored = newStore().store;
    restored.state.restore(store.state.snapshot());
    const err = await rejection(restored.update((tx) => tx.createService({ Spec: spec('a') })));
    expect(err.code).toBe('already_exists');
  });

  it('rejects a conflicting entry at apply time when two proposers raced', async () => {
    const { store, rec } = newStore();
    await store.update((tx) => tx.createService({ Spec: spec('web') }));
    const v1 = store.getService('web')!;
    // Two updates read the same version; the log orders them and only the first wins.
    rec.hold();
    const p1 = store.update((tx) => tx.updateService({ ...v1, Spec: spec('web', 3) }));
    const p2 = store.update((tx) => tx.updateService({ ...v1, Spec: spec('web', 4) }));
    rec.release();
    const [r1, r2] = await Promise.allSettled([p1, p2]);
    expect(r1.status).toBe('fulfilled');
    expect(r2.status === 'rejected' && (r2.reason as SkiffError).code).toBe('conflict');
    expect(rec.entries).toHaveLength(3);
    expect(store.getService('web')?.Spec.Mode?.Replicated?.Replicas).toBe(3);
  });

  it('lets a transaction read its own writes and folds repeated updates into one op', async () => {
    const { store, rec } = newStore();
    await store.update((tx) => {
      const s = tx.createService({ Spec: spec('web') });
      expect(tx.get('services', s.ID)?.Spec.Name).toBe('web');
      const t = tx.createTask({
        Spec: {},
        ServiceID: s.ID,
        Status: { State: 'new' },
        DesiredState: 'running',
      });
      tx.updateTask({ ...t, DesiredState: 'shutdown' });
      expect(tx.list('tasks')).toHaveLength(1);
    });
    expect(store.listTasks({ desiredState: 'shutdown' })).toHaveLength(1);
    expect(store.listTasks({ desiredState: 'running' })).toHaveLength(0);
    expect(rec.entries).toHaveLength(1);
  });

  it('refuses to delete a secret, config or network a service uses', async () => {
    const { store } = newStore();
    const sec = await store.update((tx) => tx.createSecret({ Spec: { Name: 's1', Data: 'eA==' } }));
    await store.update((tx) =>
      tx.createService({
        Spec: {
          Name: 'web',
          TaskTemplate: {
            ContainerSpec: { Image: 'busybox', Secrets: [{ SecretID: sec.ID, SecretName: 's1' }] },
          },
        },
      }),
    );
    const err = await rejection(store.update((tx) => tx.deleteSecret(sec.ID)));
    expect(err.code).toBe('invalid_argument');
    expect(err.message).toContain('in use by service web');
    expect(store.getSecret('s1')).toBeDefined();
    await store.update((tx) => {
      tx.deleteService(store.getService('web')!.ID);
      tx.deleteSecret(sec.ID);
    });
    expect(store.listSecrets()).toHaveLength(0);
  });

  it('deletes with an expected version only when it still matches', async () => {
    const { store } = newStore();
    const c = await store.update((tx) => tx.createConfig({ Spec: { Name: 'c', Data: 'eA==' } }));
    await store.update((tx) =>
      tx.updateConfig({ ...store.getConfig('c')!, Spec: { Name: 'c', Labels: { a: 'b' }, Data: 'eA==' } }),
    );
    expect((await rejection(store.update((tx) => tx.deleteConfig(c.ID, 1)))).code).toBe('conflict');
    expect((await rejection(store.update((tx) => tx.deleteConfig('nope')))).code).toBe('not_found');
    await store.update((tx) => tx.deleteConfig(c.ID, 2));
    expect(store.getConfig('c')).toBeUndefined();
  });

  it('fails with unavailable when no replicator is set', async () => {
    const store = new Store({ cipher: createAesGcmCipher(randomBytes(32)) });
    expect((await rejection(store.update((tx) => tx.createService({ Spec: spec('x') })))).code).toBe(
      'unavailable',
    );
  });
});

describe('store watches', () => {
  it('delivers create/update/delete events after apply, in order, with the old object', async () => {
    const { store } = newStore();
    const seen: StoreEvent[] = [];
    const off = store.subscribe((e) => {
      // Delivered after apply: the state already shows the change.
      if (e.table === 'services' && e.kind !== 'delete')
        expect(store.getService(e.object.ID)?.Version.Index).toBe(e.index);
      seen.push(e);
    });
    const w = store.watch({ tables: ['services'], kinds: ['update'] });
    const s = await store.update((tx) => tx.createService({ Spec: spec('web') }));
    await store.update((tx) => tx.updateService({ ...store.getService(s.ID)!, Spec: spec('web', 2) }));
    await store.update((tx) => tx.deleteService(s.ID));
    off();
    await store.update((tx) => tx.createService({ Spec: spec('later') }));
    expect(seen.map((e) => `${e.kind}:${e.index}`)).toEqual(['create:1', 'update:2', 'delete:3']);
    expect(seen[1]?.old?.Version.Index).toBe(1);
    const it = w[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.value?.kind).toBe('update');
    w.close();
    expect((await it.next()).done).toBe(true);
  });

  it('keeps applying when a watcher throws', async () => {
    const { store } = newStore();
    store.subscribe(() => {
      throw new Error('boom');
    });
    await store.update((tx) => tx.createService({ Spec: spec('web') }));
    expect(store.getService('web')).toBeDefined();
  });
});

describe('store secrets', () => {
  const plain = 'correct-horse-battery-staple-7f3a';
  const b64 = Buffer.from(plain).toString('base64');

  it('never holds secret data in clear in proposals, snapshots or objects', async () => {
    const { store, rec } = newStore();
    const s = await store.update((tx) => tx.createSecret({ Spec: { Name: 's1', Data: b64 } }));
    expect(store.getSecret('s1')?.Spec.Data).toBeUndefined();
    expect(Buffer.from(store.getSecretData(s.ID)!).toString()).toBe(plain);
    const blobs = [...rec.entries.map((e) => Buffer.from(e.data)), Buffer.from(store.state.snapshot())];
    for (const blob of blobs) {
      expect(blob.includes(plain)).toBe(false);
      expect(blob.includes(b64)).toBe(false);
    }
  });

  it('keeps the data across a label update and refuses to decrypt with another key', async () => {
    const { store, key } = newStore();
    const s = await store.update((tx) => tx.createSecret({ Spec: { Name: 's1', Data: b64 } }));
    await store.update((tx) =>
      tx.updateSecret({ ...store.getSecret('s1')!, Spec: { Name: 's1', Labels: { x: 'y' } } }),
    );
    expect(Buffer.from(store.getSecretData(s.ID)!).toString()).toBe(plain);

    const other = new Store({ cipher: createAesGcmCipher(randomBytes(32)) });
    other.stateMachine.restore(store.state.snapshot());
    expect(() => other.getSecretData(s.ID)).toThrow(/does not decrypt/);
    const same = new Store({ cipher: createAesGcmCipher(key) });
    same.stateMachine.restore(store.state.snapshot());
    expect(Buffer.from(same.getSecretData(s.ID)!).toString()).toBe(plain);
  });
});

describe('store state machine', () => {
  it('restores a snapshot and emits the difference as events', async () => {
    const { store } = newStore();
    await store.update((tx) => tx.createService({ Spec: spec('a') }));
    await store.update((tx) => tx.createService({ Spec: spec('b') }));
    const snap = store.state.snapshot();

    const { store: other } = newStore();
    await other.update((tx) => tx.createService({ Spec: spec('stale') }));
    const seen: string[] = [];
    other.subscribe((e) => seen.push(`${e.kind}:${(e.object as { Spec: ServiceSpec }).Spec.Name}`));
    other.stateMachine.restore(snap);
    expect(other.listServices().map((s) => s.Spec.Name)).toEqual(['a', 'b']);
    expect(other.appliedIndex).toBe(2);
    expect(seen.sort()).toEqual(['create:a', 'create:b', 'delete:stale']);
    expect(Buffer.from(other.state.snapshot()).equals(Buffer.from(snap))).toBe(true);
  });

  it('is deterministic: the same entries give byte-identical snapshots; corrupt entries are skipped', async () => {
    const { store, rec } = newStore();
    await store.update((tx) => tx.createService({ Spec: spec('a') }));
    await store.update((tx) => tx.createNode({ Spec: { Role: 'manager' }, Status: { State: 'ready' } }));
    const replicas = [0, 1].map(() => new Store({ cipher: createAesGcmCipher(randomBytes(32)) }));
    for (const r of replicas) {
      for (const e of rec.entries) r.stateMachine.apply(e);
      r.stateMachine.apply({ index: 99, term: 1, data: new TextEncoder().encode('{not json') });
      r.stateMachine.apply({ index: 100, term: 1, data: new Uint8Array() });
    }
    expect(
      Buffer.from(replicas[0]!.state.snapshot()).equals(Buffer.from(replicas[1]!.state.snapshot())),
    ).toBe(true);
    expect(replicas[0]!.appliedIndex).toBe(100);
    expect(replicas[0]!.listServices()).toHaveLength(1);
  });

  it('rejects a malformed snapshot without changing state', async () => {
    const { store } = newStore();
    await store.update((tx) => tx.createService({ Spec: spec('a') }));
    expect(() => store.stateMachine.restore(new TextEncoder().encode('{"v":1}'))).toThrow(SkiffError);
    expect(store.listServices()).toHaveLength(1);
  });

  it('works with the LocalReplicator', async () => {
    const store = new Store({ cipher: createAesGcmCipher(randomBytes(32)) });
    store.setReplicator(new LocalReplicator(store.state, { id: 'n1', addr: '127.0.0.1:2377' }));
    await store.update((tx) => tx.createService({ Spec: spec('a') }));
    await store.update((tx) => tx.createService({ Spec: spec('b') }));
    expect(store.getService('b')?.Version.Index).toBe(2);
  });
});
