// The store over a single-node raft: state survives a restart (WAL + snapshots), and
// secret data is nowhere in clear in the raft files.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RaftNode } from '../../../manager/raft/index.js';
import { createAesGcmCipher, RaftReplicator, Store } from '../../../manager/store/index.js';
import { waitFor } from '../../lab/index.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startStore(dataDir: string, key: Uint8Array) {
  const store = new Store({ cipher: createAesGcmCipher(key) });
  const raft = await RaftNode.start({
    id: 'm1',
    dataDir,
    peers: [{ id: 'm1', addr: '127.0.0.1:0' }],
    stateMachine: store.stateMachine,
    tickMs: 10,
    snapshotEvery: 5,
    snapshotCatchUpEntries: 1,
  });
  let stopped = false;
  const stop = async () => {
    if (!stopped) await raft.stop();
    stopped = true;
  };
  cleanups.push(stop);
  store.setReplicator(new RaftReplicator(raft, { timeoutMs: 5000 }));
  await waitFor(() => raft.status().role === 'leader', {
    what: 'the single-node raft to elect itself',
    timeoutMs: 10_000,
    intervalMs: 10,
  });
  return { store, stop };
}

describe('store over raft', () => {
  it('keeps every object across a restart and never writes secret data in clear', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'skiff-raft-store-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const dataDir = join(dir, 'raft');
    const key = randomBytes(32);
    const plain = 'raft-secret-5f0c2a9e7b1d';
    const b64 = Buffer.from(plain).toString('base64');

    const first = await startStore(dataDir, key);
    const secret = await first.store.update((tx) => tx.createSecret({ Spec: { Name: 's1', Data: b64 } }));
    for (let i = 0; i < 12; i++) {
      await first.store.update((tx) =>
        tx.createService({
          Spec: { Name: `svc${i}`, TaskTemplate: { ContainerSpec: { Image: 'busybox' } } },
        }),
      );
    }
    const web = first.store.getService('svc3')!;
    await first.store.update((tx) => tx.updateService({ ...web, Spec: { ...web.Spec, Labels: { v: '2' } } }));
    const before = first.store.state.snapshot();
    await first.stop();

    const files = (await readdir(dataDir, { recursive: true, withFileTypes: true })).filter((e) =>
      e.isFile(),
    );
    // Both the WAL and at least one snapshot hold the state; neither has the secret in clear.
    expect(files.some((f) => f.parentPath.endsWith('wal'))).toBe(true);
    expect(files.some((f) => f.parentPath.endsWith('snap'))).toBe(true);
    for (const f of files) {
      const bytes = await readFile(join(f.parentPath, f.name));
      expect(bytes.includes(plain), f.name).toBe(false);
      expect(bytes.includes(b64), f.name).toBe(false);
    }

    const second = await startStore(dataDir, key);
    expect(second.store.listServices()).toHaveLength(12);
    expect(second.store.getService('svc3')?.Spec.Labels).toEqual({ v: '2' });
    expect(Buffer.from(second.store.getSecretData(secret.ID)!).toString()).toBe(plain);
    const after = JSON.parse(Buffer.from(second.store.state.snapshot()).toString()) as { tables: unknown };
    expect(after.tables).toEqual((JSON.parse(Buffer.from(before).toString()) as { tables: unknown }).tables);
    // And it keeps working: a write after the restart is applied.
    await second.store.update((tx) => tx.createConfig({ Spec: { Name: 'c1', Data: 'eA==' } }));
    expect(second.store.getConfig('c1')).toBeDefined();
  });
});
