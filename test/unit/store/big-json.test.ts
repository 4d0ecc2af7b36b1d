// Snapshots bigger than one JS string (a million tasks): the store writes them a piece at a
// time and reads them back member by member. Both must be exactly JSON's, on documents
// small enough to check, with the piece size lowered so the member-by-member walk runs.
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseBigJson } from '../../../manager/store/big-json.js';
import { createAesGcmCipher, LocalReplicator, Store } from '../../../manager/store/index.js';

const bytes = (s: string) => new TextEncoder().encode(s);

function newStore(): Store {
  const store = new Store({ cipher: createAesGcmCipher(randomBytes(32)) });
  store.setReplicator(new LocalReplicator(store.state));
  return store;
}

describe('parseBigJson', () => {
  it('gives what JSON.parse gives, whatever the piece size', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.integer({ min: 1, max: 64 }), fc.boolean(), (v, piece, spaced) => {
        const text = JSON.stringify(v, null, spaced ? 1 : undefined);
        expect(parseBigJson(bytes(text), piece)).toEqual(JSON.parse(text));
      }),
      { numRuns: 300 },
    );
  });

  it('reads strings holding quotes, brackets and escapes inside a walked container', () => {
    const v = { 'a"]': ['x\\"}{', '\u00e9\u{1F600}', { k: '[[[' }], __proto__: [1], b: -1.5e3, c: null };
    const text = JSON.stringify(v);
    const got = parseBigJson(bytes(text), 4) as Record<string, unknown>;
    expect(got).toEqual(JSON.parse(text));
    expect(Object.getPrototypeOf(got)).toBe(Object.prototype);
  });

  it('refuses what JSON.parse refuses', () => {
    for (const bad of ['[1,]', '{"a":1,}', '{"a" 1}', '[1 2]', '{"a":[1,2}', '[1]x', '{"a":"b', '{a:1}'])
      expect(() => parseBigJson(bytes(bad), 2), bad).toThrow(SyntaxError);
  });
});

describe('store snapshot', () => {
  it('is JSON.stringify of its body, and restores tasks sharing their service Spec', async () => {
    const store = newStore();
    const svc = await store.update((tx) =>
      tx.createService({ Spec: { Name: 's', TaskTemplate: { ContainerSpec: { Image: 'busybox' } } } }),
    );
    await store.update((tx) => {
      for (let i = 0; i < 3; i++)
        tx.createTask({
          ServiceID: svc.ID,
          Spec: { ContainerSpec: { Image: 'busybox' } },
          DesiredState: 'running',
          Status: { State: 'new' },
        });
    });
    const snap = store.state.snapshot();
    const body = JSON.parse(new TextDecoder().decode(snap));
    expect(Buffer.from(snap).toString()).toBe(JSON.stringify(body));
    const other = newStore();
    other.state.restore(snap);
    const tasks = other.listTasks();
    expect(tasks).toHaveLength(3);
    expect(tasks[1]!.Spec).toBe(tasks[0]!.Spec);
    expect(tasks[2]!.Spec).toBe(tasks[0]!.Spec);
    expect(Buffer.from(other.state.snapshot()).equals(Buffer.from(snap))).toBe(true);
  });

  it('serialised later, in slices, is the state as of its capture: what applies meanwhile is not in it', async () => {
    const store = newStore();
    const svc = await store.update((tx) =>
      tx.createService({ Spec: { Name: 's', TaskTemplate: { ContainerSpec: { Image: 'busybox' } } } }),
    );
    const create = () =>
      store.update((tx) => {
        for (let i = 0; i < 1000; i++)
          tx.createTask({
            ServiceID: svc.ID,
            Spec: { ContainerSpec: { Image: 'busybox' } },
            DesiredState: 'running',
            Status: { State: 'new' },
          });
      });
    await create();
    const now = store.state.snapshot();
    // Slices of 0 ms: every 256 objects the event loop gets a turn, and a write goes in.
    const serialise = store.state.snapshotLater(0);
    const writes = (async () => {
      for (let i = 0; i < 3; i++) await create();
    })();
    const later = await serialise();
    // Writes were applied while it was being serialised.
    expect(store.listTasks().length).toBeGreaterThan(1000);
    await writes;
    expect(Buffer.from(later).equals(Buffer.from(now))).toBe(true);
    expect(store.listTasks()).toHaveLength(4000);
  });
});
