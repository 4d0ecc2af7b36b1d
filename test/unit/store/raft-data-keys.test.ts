// The raft data key file: a random key per node wrapped by the store key, or by the
// unlock key under autolock; a rotation that a crash interrupts leaves a file the next
// start opens either way; older keys are forgotten once nothing is sealed with them.
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { legacyRaftDataKey, RAFT_DEK_FILE, RaftDataKeys } from '../../../manager/raft-data-key.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'raft-dek-file-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const storeKey = randomBytes(32);
const ids = (k: RaftDataKeys) => [k.ring().current.id, ...(k.ring().previous ?? []).map((p) => p.id)];

describe('raft data key file', () => {
  it('creates a random key, alone for a new node, and reopens it with the store key', async () => {
    const k = await RaftDataKeys.open(dir, 'n1', { storeKey });
    expect(ids(k)).toEqual([1]);
    const again = await RaftDataKeys.open(dir, 'n1', { storeKey });
    expect(Buffer.from(again.ring().current.key)).toEqual(Buffer.from(k.ring().current.key));
  });

  it('creates a random key beside key 0 for an older raft directory and reopens it with the store key', async () => {
    await mkdir(join(dir, 'raft'));
    const k = await RaftDataKeys.open(dir, 'n1', { storeKey });
    expect(ids(k)).toEqual([1, 0]);
    expect(Buffer.from(k.ring().previous![0]!.key)).toEqual(Buffer.from(legacyRaftDataKey(storeKey, 'n1')));
    const raw = await readFile(join(dir, RAFT_DEK_FILE), 'utf8');
    expect(raw).not.toContain(Buffer.from(k.ring().current.key).toString('base64'));
    const again = await RaftDataKeys.open(dir, 'n1', { storeKey });
    expect(Buffer.from(again.ring().current.key)).toEqual(Buffer.from(k.ring().current.key));
    await expect(RaftDataKeys.open(dir, 'n1', { storeKey: randomBytes(32) })).rejects.toMatchObject({
      code: 'invalid_argument',
    });
  });

  it('under autolock opens only with the unlock key, and a rotation cut short opens with either lock', async () => {
    const k = await RaftDataKeys.open(dir, 'n1', { storeKey });
    await k.forget([1]);
    expect(ids(k)).toEqual([1]);
    const unlockKey = 'SWMKEY-1-first';
    const ring = await k.rotate({ storeKey, unlockKey }, async () => {});
    expect([ring.current.id, ...(ring.previous ?? []).map((p) => p.id)]).toEqual([2, 1]);
    await expect(RaftDataKeys.open(dir, 'n1', { storeKey })).rejects.toMatchObject({
      code: 'invalid_argument',
    });
    const locked = await RaftDataKeys.open(dir, 'n1', { storeKey, unlockKey });
    expect(ids(locked)).toEqual([2, 1]);
    // A crash while the unlock key changes: the file opens with the old one and the new one.
    const crash = new Error('crash');
    await expect(
      locked.rotate({ storeKey, unlockKey: 'SWMKEY-1-second' }, () => Promise.reject(crash)),
    ).rejects.toBe(crash);
    for (const u of [unlockKey, 'SWMKEY-1-second']) {
      expect(ids(await RaftDataKeys.open(dir, 'n1', { storeKey, unlockKey: u }))).toEqual([3, 2, 1]);
    }
    await locked.forget([3]);
    const after = await RaftDataKeys.open(dir, 'n1', { storeKey, unlockKey });
    expect(ids(after)).toEqual([3]);
  });
});
