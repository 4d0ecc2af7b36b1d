import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Task } from '../../../lib/index.js';
import { createAesGcmCipher, Store } from '../../../manager/store/index.js';
import { decodeProposal } from '../../../manager/store/proposal.js';
import { LogReplicator } from './log-replicator.js';

const FIXED = new Date('2026-01-02T03:04:05.000Z');
const utf8 = new TextEncoder();

function newStore() {
  const store = new Store({ cipher: createAesGcmCipher(randomBytes(32)), clock: () => FIXED });
  const log = new LogReplicator(store);
  store.setReplicator(log);
  return { store, log };
}

function replica(): Store {
  return new Store({ cipher: createAesGcmCipher(randomBytes(32)), clock: () => FIXED });
}

const TEMPLATE = { ContainerSpec: { Image: 'busybox', Args: ['sleep', '1d'], Env: ['A=1'] } };

async function createTask(store: Store): Promise<Task> {
  return store.update((tx) =>
    tx.create('tasks', {
      Spec: TEMPLATE,
      ServiceID: 'svc1',
      Slot: 1,
      NodeID: 'node1',
      Status: { State: 'new', Timestamp: FIXED.toISOString() },
      DesiredState: 'running',
    } as unknown as Task),
  );
}

const lastOps = (log: LogReplicator) => decodeProposal(log.entries[log.entries.length - 1]!.data).ops;

describe('store updates travel as patches', () => {
  it('logs only the changed fields, and a replica replaying the log ends with the same object', async () => {
    const { store, log } = newStore();
    const t = await createTask(store);
    const cur = store.getTask(t.ID)!;
    const { NodeID: _gone, ...rest } = cur;
    await store.update((tx) => tx.update('tasks', { ...rest, Status: { State: 'pending', Timestamp: 'x' } }));
    const ops = lastOps(log);
    expect(ops).toHaveLength(1);
    const op = ops[0]!;
    expect(op.op).toBe('patch');
    if (op.op !== 'patch') return;
    // UpdatedAt is the same instant here (a fixed clock), so it does not travel either.
    expect(Object.keys(op.set)).toEqual(['Status']);
    expect(op.unset).toEqual(['NodeID']);
    expect(new TextDecoder().decode(log.entries[1]!.data)).not.toContain('busybox');

    const after = store.getTask(t.ID)!;
    expect(after.NodeID).toBeUndefined();
    expect(after.Status.State).toBe('pending');
    expect(after.Spec).toEqual(TEMPLATE);
    expect(after.Version.Index).toBe(2);
    expect(Object.isFrozen(after.Status)).toBe(true);

    const r = replica();
    for (const e of log.entries) r.stateMachine.apply(e);
    expect(r.getTask(t.ID)).toEqual(after);
  });

  it('a field set to undefined is removed as a full update would remove it', async () => {
    const { store, log } = newStore();
    const t = await createTask(store);
    await store.update((tx) => tx.update('tasks', { ...store.getTask(t.ID)!, NodeID: undefined } as Task));
    const op = lastOps(log)[0]!;
    expect(op.op === 'patch' && op.unset).toEqual(['NodeID']);
    expect('NodeID' in store.getTask(t.ID)!).toBe(false);
  });

  it('rejects a patch based on a stale version and changes nothing', async () => {
    const { store, log } = newStore();
    const t = await createTask(store);
    const base = store.getTask(t.ID)!;
    await store.update((tx) => tx.update('tasks', { ...base, DesiredState: 'shutdown' }));
    const stale = {
      v: 1,
      id: 'p3',
      ops: [
        {
          op: 'patch',
          table: 'tasks',
          id: t.ID,
          version: base.Version.Index,
          set: { DesiredState: 'remove' },
        },
      ],
    };
    const before = store.getTask(t.ID);
    store.stateMachine.apply({
      index: log.entries.length + 1,
      term: 1,
      data: utf8.encode(JSON.stringify(stale)),
    });
    expect(store.getTask(t.ID)).toBe(before);
  });

  it('still applies full updates written by earlier versions (existing WALs and snapshots)', async () => {
    const { store, log } = newStore();
    const t = await createTask(store);
    const cur = store.getTask(t.ID)!;
    const full = {
      v: 1,
      id: 'old',
      ops: [{ op: 'update', table: 'tasks', object: { ...cur, DesiredState: 'shutdown' } }],
    };
    store.stateMachine.apply({
      index: log.entries.length + 1,
      term: 1,
      data: utf8.encode(JSON.stringify(full)),
    });
    expect(store.getTask(t.ID)?.DesiredState).toBe('shutdown');
    expect(store.getTask(t.ID)?.Spec).toEqual(TEMPLATE);
  });

  it('refuses malformed patches as corrupt', () => {
    const bad = [
      { op: 'patch', table: 'tasks', id: 'x', set: {} },
      { op: 'patch', table: 'tasks', id: 'x', version: 1, set: { Version: { Index: 9 } } },
      { op: 'patch', table: 'tasks', id: 'x', version: 1, set: {}, unset: [3] },
      { op: 'patch', table: 'tasks', id: 'x', version: 1, set: {}, unset: ['ID'] },
    ];
    for (const op of bad) {
      const data = utf8.encode(JSON.stringify({ v: 1, id: 'p', ops: [op] }));
      expect(() => decodeProposal(data)).toThrow(/patch/);
    }
  });
});
