import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Task } from '../../../lib/index.js';
import { createAesGcmCipher, Store } from '../../../manager/store/index.js';
import { encodeProposal, proposalIdOf } from '../../../manager/store/proposal.js';
import { LogReplicator } from './log-replicator.js';

const FIXED = new Date('2026-01-02T03:04:05.000Z');

const newStore = () => new Store({ cipher: createAesGcmCipher(randomBytes(32)), clock: () => FIXED });

function taskInput(extra: Record<string, unknown> = {}) {
  return {
    Spec: { ContainerSpec: { Image: 'busybox' } },
    ServiceID: 'svc1',
    Slot: 1,
    Status: { State: 'new', Timestamp: FIXED.toISOString() },
    DesiredState: 'running',
    ...extra,
  } as unknown as Task;
}

describe("the proposer applies its own proposals' ops", () => {
  it('without decoding them when the logged bytes are the ones it encoded; a replica agrees', async () => {
    const store = newStore();
    const log = new LogReplicator(store);
    store.setReplicator(log);
    const input = taskInput();
    const t = await store.update((tx) => tx.create('tasks', input));
    const stored = store.getTask(t.ID)!;
    expect(stored.Spec).toBe(input.Spec); // the proposer's own object, not a decoded copy
    expect(Object.isFrozen(input.Spec.ContainerSpec)).toBe(true);
    const replica = newStore();
    for (const e of log.entries) replica.stateMachine.apply(e);
    expect(replica.getTask(t.ID)).toEqual(stored);
  });

  it('a writer changing an object after handing it to the store gets an error, not a divergent state', async () => {
    const store = newStore();
    store.setReplicator(new LogReplicator(store));
    const input = taskInput();
    await store.update((tx) => tx.create('tasks', input));
    expect(() => {
      (input.Status as { State: string }).State = 'running';
    }).toThrow(TypeError);
  });

  it('decodes the entry when JSON would not keep the objects exactly (an undefined field)', async () => {
    const store = newStore();
    store.setReplicator(new LogReplicator(store));
    const t = await store.update((tx) => tx.create('tasks', taskInput({ NodeID: undefined })));
    expect('NodeID' in store.getTask(t.ID)!).toBe(false);
  });

  it('applies what the log holds when it differs from what was encoded', async () => {
    const store = newStore();
    const swap = (b: Uint8Array) => {
      const s = new TextDecoder().decode(b).replace('"busybox"', '"busyboy"');
      return new TextEncoder().encode(s);
    };
    store.setReplicator(new LogReplicator(store, swap));
    const t = await store.update((tx) => tx.create('tasks', taskInput()));
    expect(store.getTask(t.ID)?.Spec.ContainerSpec?.Image).toBe('busyboy');
  });

  it('reads the proposal ID from the bytes without parsing, and nothing from other bytes', () => {
    const id = 'a'.repeat(25);
    expect(proposalIdOf(encodeProposal({ v: 1, id, ops: [] }))).toBe(id);
    expect(proposalIdOf(new TextEncoder().encode('{"v":1,"id":"short","ops":[]}'))).toBeUndefined();
    expect(proposalIdOf(new Uint8Array([1, 2, 3]))).toBeUndefined();
  });
});
