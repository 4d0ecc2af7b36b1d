import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isRaftError } from '../../../manager/raft/errors.js';
import { DiskStorage } from '../../../manager/raft/storage/disk.js';
import { Wal } from '../../../manager/raft/storage/wal.js';
import type { Entry } from '../../../manager/raft/types.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raft-wal-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ent = (index: number, term: number, text = `e${index}`): Entry => ({
  index,
  term,
  type: 'normal',
  data: new TextEncoder().encode(text),
});
const range = (from: number, to: number, term: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => ent(from + i, term));

async function onlySegment(): Promise<string> {
  const files = (await readdir(join(dir, 'wal'))).filter((f) => f.endsWith('.wal'));
  expect(files).toHaveLength(1);
  return join(dir, 'wal', files[0]!);
}

describe('WAL', () => {
  it('recovers hard state and entries, with later writes replacing a conflicting tail', async () => {
    const { wal } = await Wal.open(join(dir, 'wal'));
    await wal.save({ term: 1, vote: 'a', commit: 0 }, range(1, 5, 1));
    await wal.save({ term: 2, vote: 'b', commit: 3 }, [ent(4, 2, 'new4')]);
    await wal.close();
    const { wal: again, contents } = await Wal.open(join(dir, 'wal'));
    await again.close();
    expect(contents.hardState).toEqual({ term: 2, vote: 'b', commit: 3 });
    expect(contents.entries.map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
      [4, 2],
    ]);
    expect(new TextDecoder().decode(contents.entries[3]!.data)).toBe('new4');
  });

  it('truncates a torn last record and keeps appending after it', async () => {
    const { wal } = await Wal.open(join(dir, 'wal'));
    await wal.save(null, range(1, 3, 1));
    await wal.close();
    const seg = await onlySegment();
    const full = (await stat(seg)).size;
    await truncate(seg, full - 5); // a crash cut the last write short
    const torn: number[] = [];
    const { wal: again, contents } = await Wal.open(join(dir, 'wal'), {
      onTornTail: (_f, off) => torn.push(off),
    });
    expect(contents.entries.map((e) => e.index)).toEqual([1, 2]);
    expect(torn).toHaveLength(1);
    await again.save(null, [ent(3, 1, 'again')]);
    await again.close();
    const { wal: third, contents: c3 } = await Wal.open(join(dir, 'wal'));
    await third.close();
    expect(c3.entries.map((e) => e.index)).toEqual([1, 2, 3]);
  });

  it('treats a zero-filled tail as torn', async () => {
    const { wal } = await Wal.open(join(dir, 'wal'));
    await wal.save(null, range(1, 2, 1));
    await wal.close();
    const seg = await onlySegment();
    await writeFile(seg, Buffer.concat([await readFile(seg), Buffer.alloc(64)]));
    const { wal: again, contents } = await Wal.open(join(dir, 'wal'));
    await again.close();
    expect(contents.entries.map((e) => e.index)).toEqual([1, 2]);
  });

  it('reports a flipped bit in a middle record instead of ignoring it', async () => {
    const { wal } = await Wal.open(join(dir, 'wal'));
    for (let i = 1; i <= 4; i++) await wal.save(null, [ent(i, 1, 'payload-payload-payload')]);
    await wal.close();
    const seg = await onlySegment();
    const buf = await readFile(seg);
    buf[Math.floor(buf.length / 2)]! ^= 0x10;
    await writeFile(seg, buf);
    const err = await Wal.open(join(dir, 'wal')).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isRaftError(err, 'wal_corrupt')).toBe(true);
    expect((err as Error).message).toContain(seg);
    expect((err as Error).message).toMatch(/at byte \d+/);
  });

  it('reports a damaged length field in a middle record (not mistaken for a torn tail)', async () => {
    const { wal } = await Wal.open(join(dir, 'wal'));
    await wal.save(null, range(1, 3, 1));
    await wal.close();
    const seg = await onlySegment();
    const buf = await readFile(seg);
    buf[3]! ^= 0x01; // high byte of the first record's length
    await writeFile(seg, buf);
    await expect(Wal.open(join(dir, 'wal'))).rejects.toThrow(/damaged at byte 0/);
  });

  it('rolls segments and releases the ones a snapshot covers', async () => {
    const { wal } = await Wal.open(join(dir, 'wal'), { segmentBytes: 200 });
    for (let i = 1; i <= 30; i++) await wal.save({ term: 1, vote: '', commit: i - 1 }, [ent(i, 1)]);
    const before = wal.segmentCount();
    expect(before).toBeGreaterThan(3);
    await wal.releaseTo(20);
    expect(wal.segmentCount()).toBeLessThan(before);
    await wal.close();
    const { wal: again, contents } = await Wal.open(join(dir, 'wal'));
    await again.close();
    expect(contents.entries[0]!.index).toBeLessThanOrEqual(21);
    expect(contents.entries.at(-1)!.index).toBe(30);
    expect(contents.hardState).toEqual({ term: 1, vote: '', commit: 29 });
  });
});

describe('DiskStorage', () => {
  const conf = { voters: ['a'], learners: [], addrs: { a: 'x:1' } };

  it('is empty when fresh, then recovers snapshot + following entries', async () => {
    const first = await DiskStorage.open(dir);
    expect(first.state).toBeNull();
    await first.storage.save({ term: 1, vote: 'a', commit: 6 }, range(1, 8, 1), null);
    await first.storage.saveSnapshot({ meta: { index: 5, term: 1, conf }, data: new Uint8Array([7]) });
    await first.storage.close();
    const { storage, state } = await DiskStorage.open(dir);
    await storage.close();
    expect(state!.snapshot.meta).toEqual({ index: 5, term: 1, conf });
    expect([...state!.snapshot.data]).toEqual([7]);
    expect(state!.entries.map((e) => e.index)).toEqual([6, 7, 8]);
    expect(state!.hardState).toEqual({ term: 1, vote: 'a', commit: 6 });
  });

  it('drops a stale log tail that disagrees with a snapshot received from the leader', async () => {
    const first = await DiskStorage.open(dir);
    await first.storage.save({ term: 1, vote: '', commit: 2 }, range(1, 8, 1), null);
    await first.storage.save({ term: 3, vote: '', commit: 6 }, [], {
      meta: { index: 6, term: 3, conf },
      data: new Uint8Array(),
    });
    await first.storage.close();
    const { storage, state } = await DiskStorage.open(dir);
    await storage.close();
    expect(state!.entries).toEqual([]);
    expect(state!.hardState.commit).toBe(6);
  });

  it('refuses a damaged snapshot with a clear error', async () => {
    const first = await DiskStorage.open(dir);
    await first.storage.saveSnapshot({ meta: { index: 1, term: 1, conf }, data: new Uint8Array([1, 2, 3]) });
    await first.storage.close();
    const snapDir = join(dir, 'snap');
    const [name] = await readdir(snapDir);
    const buf = await readFile(join(snapDir, name!));
    buf[buf.length - 1]! ^= 1;
    await writeFile(join(snapDir, name!), buf);
    await expect(DiskStorage.open(dir)).rejects.toThrow(/fails its checksum/);
  });
});
