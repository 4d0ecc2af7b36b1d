// The raft log and snapshots sealed at rest with a data key: nothing of an entry's or a
// snapshot's data in the files, everything back with the key, a clear refusal without it
// or with another one, and an older skiff's clear log still read.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AtRestCipher, sealedKeyId } from '../../../manager/raft/storage/at-rest.js';
import { DiskStorage } from '../../../manager/raft/storage/disk.js';
import type { Entry, Snapshot } from '../../../manager/raft/types.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raft-at-rest-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const MARKER = 'zz-at-rest-marker-zz';
const ent = (index: number, term: number): Entry => ({
  index,
  term,
  type: 'normal',
  data: new TextEncoder().encode(`{"env":"${MARKER}-${index}"}`),
});
const text = (d: Uint8Array) => new TextDecoder().decode(d);

async function everyFile(): Promise<Buffer> {
  const out: Buffer[] = [];
  for (const sub of ['wal', 'snap']) {
    const files = await readdir(join(dir, sub)).catch(() => [] as string[]);
    for (const f of files) out.push(await readFile(join(dir, sub, f)));
  }
  return Buffer.concat(out);
}

async function write(key: Uint8Array | undefined): Promise<void> {
  const { storage } = await DiskStorage.open(dir, key ? { cipher: new AtRestCipher(key) } : {});
  await storage.save({ term: 1, vote: 'a', commit: 3 }, [ent(1, 1), ent(2, 1), ent(3, 1)], null);
  const snap: Snapshot = {
    meta: { index: 2, term: 1, conf: { voters: ['a'], learners: [], addrs: { a: '10.0.0.1:2378' } } },
    data: new TextEncoder().encode(`{"tables":"${MARKER}-snap"}`),
  };
  await storage.saveSnapshot(snap);
  await storage.close();
}

describe('raft storage at rest', () => {
  it('keeps entries and snapshots sealed on disk and reads them back with the key', async () => {
    const key = randomBytes(32);
    await write(key);
    expect((await everyFile()).includes(MARKER)).toBe(false);
    const { storage, state } = await DiskStorage.open(dir, { cipher: new AtRestCipher(key) });
    await storage.close();
    expect(text(state!.snapshot.data)).toBe(`{"tables":"${MARKER}-snap"}`);
    expect(state!.entries.map((e) => text(e.data))).toEqual([`{"env":"${MARKER}-3"}`]);
  });

  it('refuses to read sealed data without the key or with another key', async () => {
    await write(randomBytes(32));
    await expect(DiskStorage.open(dir)).rejects.toMatchObject({ code: 'wrong_key' });
    await expect(DiskStorage.open(dir, { cipher: new AtRestCipher(randomBytes(32)) })).rejects.toMatchObject({
      code: 'wrong_key',
      message: expect.stringMatching(/does not open with this manager's raft data key/),
    });
  });

  it('reads a log and snapshot an older skiff wrote in clear, and seals what it writes next', async () => {
    await write(undefined);
    expect((await everyFile()).includes(MARKER)).toBe(true);
    const key = randomBytes(32);
    const { storage, state } = await DiskStorage.open(dir, { cipher: new AtRestCipher(key) });
    expect(state!.entries.map((e) => e.index)).toEqual([3]);
    await storage.save(null, [{ ...ent(4, 1), data: new TextEncoder().encode('later-zz') }], null);
    await storage.close();
    expect((await everyFile()).includes('later-zz')).toBe(false);
  });

  it('writes the key ID in each record and opens records of every key it holds, the first format as key 0', () => {
    const k0 = randomBytes(32);
    const k7 = randomBytes(32);
    const legacy = new AtRestCipher(k0).seal(Buffer.from('old'), 5, 2);
    expect(legacy[0]).toBe(1);
    expect(sealedKeyId(legacy)).toBe(0);
    const ring = new AtRestCipher({ current: { id: 7, key: k7 }, previous: [{ id: 0, key: k0 }] });
    const fresh = ring.seal(Buffer.from('new'), 6, 2);
    expect(fresh[0]).toBe(2);
    expect(sealedKeyId(fresh)).toBe(7);
    expect(text(ring.open(legacy, 5, 2, 'x'))).toBe('old');
    expect(text(ring.open(fresh, 6, 2, 'x'))).toBe('new');
    // Without the old key, its records are refused by name; a record moved elsewhere too.
    const onlyNew = new AtRestCipher({ current: { id: 7, key: k7 } });
    expect(() => onlyNew.open(legacy, 5, 2, 'entry 5')).toThrow(/entry 5 is sealed with raft data key 0/);
    expect(() => ring.open(fresh, 7, 2, 'x')).toThrow(/does not open/);
    // The key ID is authenticated: relabelled, the record no longer opens.
    const other = new AtRestCipher({ current: { id: 8, key: k7 }, previous: [{ id: 7, key: k7 }] });
    const relabelled = Buffer.from(fresh);
    relabelled.writeUInt32BE(8, 1);
    expect(() => other.open(relabelled, 6, 2, 'x')).toThrow(/does not open/);
    expect(() => new AtRestCipher({ current: { id: -1, key: k7 } })).toThrow(/u32/);
  });

  it('after a new data key and the next snapshot, nothing on disk needs the old key', async () => {
    const k0 = randomBytes(32);
    const k1 = randomBytes(32);
    await write(k0);
    const both = new AtRestCipher({ current: { id: 1, key: k1 }, previous: [{ id: 0, key: k0 }] });
    const { storage, state } = await DiskStorage.open(dir, { cipher: new AtRestCipher(k0) });
    expect(state!.entries.map((e) => e.index)).toEqual([3]);
    expect([...storage.keysInUse()]).toEqual([0]);
    storage.rekey(both);
    await storage.save({ term: 1, vote: 'a', commit: 5 }, [ent(4, 1), ent(5, 1)], null);
    expect([...storage.keysInUse()].sort()).toEqual([0, 1]);
    await storage.saveSnapshot({
      meta: { index: 5, term: 1, conf: { voters: ['a'], learners: [], addrs: { a: '10.0.0.1:2378' } } },
      data: new TextEncoder().encode(`{"tables":"${MARKER}-snap5"}`),
    });
    expect([...storage.keysInUse()]).toEqual([1]);
    await storage.close();
    // Only the new key is needed now, and the old one opens nothing that is left.
    const onlyNew = new AtRestCipher({ current: { id: 1, key: k1 } });
    const reopened = await DiskStorage.open(dir, { cipher: onlyNew });
    expect([...reopened.storage.keysInUse()]).toEqual([1]);
    expect(text(reopened.state!.snapshot.data)).toBe(`{"tables":"${MARKER}-snap5"}`);
    await reopened.storage.close();
    await expect(DiskStorage.open(dir, { cipher: new AtRestCipher(k0) })).rejects.toMatchObject({
      code: 'wrong_key',
    });
    expect(await readdir(join(dir, 'snap'))).toHaveLength(1);
  });

  it('migrates a clear log to the data key at the next snapshot, even with no entry after the key', async () => {
    await write(undefined);
    const key = new AtRestCipher({ current: { id: 1, key: randomBytes(32) } });
    const { storage } = await DiskStorage.open(dir, { cipher: key });
    expect([...storage.keysInUse()]).toEqual([-1]);
    await storage.saveSnapshot({
      meta: { index: 3, term: 1, conf: { voters: ['a'], learners: [], addrs: { a: '10.0.0.1:2378' } } },
      data: new TextEncoder().encode('{"tables":"sealed-now"}'),
    });
    expect([...storage.keysInUse()]).toEqual([1]);
    await storage.close();
    expect((await everyFile()).includes(MARKER)).toBe(false);
    const again = await DiskStorage.open(dir, { cipher: key });
    expect(text(again.state!.snapshot.data)).toBe('{"tables":"sealed-now"}');
    await again.storage.close();
  });
});
