// A raft node given a new data key re-seals its directory at the next snapshot: the old
// key then opens nothing left in it, and the node restarts with the new key alone.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AtRestCipher, DiskStorage, RaftNode } from '../../../manager/raft/index.js';
import { waitFor } from '../../lab/index.js';
import { encodePut, KvStateMachine } from '../../support/raft-kv/index.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

const peers = [{ id: 'solo', addr: '127.0.0.1:0' }];

async function start(
  dir: string,
  sm: KvStateMachine,
  dataKey: Parameters<typeof RaftNode.start>[0]['dataKey'],
) {
  const node = await RaftNode.start({
    id: 'solo',
    dataDir: dir,
    peers,
    stateMachine: sm,
    tickMs: 20,
    dataKey,
  });
  cleanups.push(() => node.stop());
  await waitFor(() => node.status().role === 'leader', {
    what: 'leadership',
    timeoutMs: 5000,
    intervalMs: 20,
  });
  return node;
}

describe('raft data key rotation', () => {
  it('drops everything the old key sealed at the next snapshot and restarts with the new key alone', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'raft-dek-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    // Sealed as today's directories are: a bare key, records without a key ID.
    const sm = new KvStateMachine();
    const node = await start(dir, sm, oldKey);
    for (let i = 0; i < 20; i++) await node.propose(encodePut({ key: `k${i}`, value: `before-${i}` }));
    expect(node.dataKeysInUse()).toEqual([0]);

    const inUse = await node.rotateDataKey({
      current: { id: 1, key: newKey },
      previous: [{ id: 0, key: oldKey }],
    });
    expect(inUse).toEqual([1]);
    for (let i = 0; i < 5; i++) await node.propose(encodePut({ key: `n${i}`, value: `after-${i}` }));
    expect(node.dataKeysInUse()).toEqual([1]);
    await node.stop();

    // Every WAL record and snapshot left opens with the new key and none with the old one.
    const onlyNew = new AtRestCipher({ current: { id: 1, key: newKey } });
    const reopened = await DiskStorage.open(dir, { cipher: onlyNew });
    expect([...reopened.storage.keysInUse()]).toEqual([1]);
    await reopened.storage.close();
    await expect(DiskStorage.open(dir, { cipher: new AtRestCipher(oldKey) })).rejects.toMatchObject({
      code: 'wrong_key',
    });
    for (const sub of ['wal', 'snap']) {
      for (const f of await readdir(join(dir, sub))) {
        expect((await readFile(join(dir, sub, f))).includes('before-')).toBe(false);
      }
    }

    const sm2 = new KvStateMachine();
    const again = await start(dir, sm2, { current: { id: 1, key: newKey } });
    await again.readBarrier();
    expect(sm2.map.get('k19')).toBe('before-19');
    expect(sm2.map.get('n4')).toBe('after-4');
  });
});
