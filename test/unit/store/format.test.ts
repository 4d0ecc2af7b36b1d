// The store's log entries and snapshots carry their format (`v`): a newer one is refused
// with both versions named and halts raft (never skipped, never misread); one without
// `v` (written before the field existed) reads as format 1.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Config } from '../../../lib/index.js';
import { STORE_FORMAT } from '../../../manager/store/format.js';
import { createAesGcmCipher, Store } from '../../../manager/store/index.js';
import { LogReplicator } from './log-replicator.js';

const utf8 = new TextDecoder();
const utf8Out = new TextEncoder();

const newStore = () => new Store({ cipher: createAesGcmCipher(randomBytes(32)) });

/** A store with one config written through its log; the log's entries. */
async function withOneConfig() {
  const store = newStore();
  const log = new LogReplicator(store);
  store.setReplicator(log);
  await store.update((tx) =>
    tx.create('configs', { Spec: { Name: 'c1', Data: 'YQ==' } } as unknown as Config),
  );
  return { store, entries: log.entries };
}

/** `data`'s JSON with `v` set to `v` (undefined: removed). */
function withFormat(data: Uint8Array, v: number | undefined): Uint8Array {
  const raw = JSON.parse(utf8.decode(data)) as Record<string, unknown>;
  if (v === undefined) delete raw.v;
  else raw.v = v;
  return utf8Out.encode(JSON.stringify(raw));
}

describe('store formats', () => {
  it('refuses a log entry of a newer format, naming both versions, and does not apply it', async () => {
    const { entries } = await withOneConfig();
    const e = entries[0]!;
    const replica = newStore();
    let thrown: unknown;
    try {
      replica.stateMachine.apply({ ...e, index: 7, data: withFormat(e.data, STORE_FORMAT + 1) });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({
      code: 'unsupported',
      halt: true,
      message: `store log entry 7 is of store format ${STORE_FORMAT + 1}; this skiff reads store formats 1 to ${STORE_FORMAT}`,
    });
    expect(replica.appliedIndex).toBe(0);
    expect(replica.listConfigs()).toEqual([]);
  });

  it('reads a log entry without a format as format 1', async () => {
    const { entries } = await withOneConfig();
    const e = entries[0]!;
    const replica = newStore();
    replica.stateMachine.apply({ ...e, data: withFormat(e.data, undefined) });
    expect(replica.listConfigs().map((c) => c.Spec.Name)).toEqual(['c1']);
  });

  it('refuses a snapshot of a newer format, naming both versions; reads one without a format', async () => {
    const { store } = await withOneConfig();
    const snap = store.stateMachine.snapshot();
    const replica = newStore();
    expect(() => replica.stateMachine.restore(withFormat(snap, STORE_FORMAT + 1))).toThrow(
      `the store snapshot is of store format ${STORE_FORMAT + 1}; this skiff reads store formats 1 to ${STORE_FORMAT}`,
    );
    expect(replica.listConfigs()).toEqual([]);
    replica.stateMachine.restore(withFormat(snap, undefined));
    expect(replica.listConfigs().map((c) => c.Spec.Name)).toEqual(['c1']);
  });
});
