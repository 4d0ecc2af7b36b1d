// The raft log and snapshots sealed at rest with a data key: nothing of an entry's or a
// snapshot's data in the files, everything back with the key, a clear refusal without it
// or with another one, and an older skiff's clear log still read.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AtRestCipher } from '../../../manager/raft/storage/at-rest.js';
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
});
