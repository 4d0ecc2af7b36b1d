import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type ContainerRecord, ContainerStore } from '../../../agent/runtime/container-store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function record(id: string, extra: Partial<ContainerRecord> = {}): ContainerRecord {
  return {
    id,
    name: id,
    labels: {},
    createdAt: '2026-01-01T00:00:00.000Z',
    stopSignal: 'SIGTERM',
    stopGraceMs: 10_000,
    tty: false,
    rootfs: '/nonexistent',
    process: { args: ['true'], cwd: '/', env: [] } as unknown as ContainerRecord['process'],
    ...extra,
  };
}

describe('ContainerStore', () => {
  it('answers a record from the moment its write is asked for, and writes a container’s records in order', async () => {
    const root = mkdtempSync(join(tmpdir(), 'skiff-store-'));
    dirs.push(root);
    const store = new ContainerStore(root);
    await store.write(record('c1'));
    // The start time's write is not waited for (the start path): a read sees it at once.
    const started = store.write(record('c1', { startedAt: '2026-01-01T00:00:01.000Z' }));
    const last = store.write(record('c1', { startedAt: '2026-01-01T00:00:02.000Z' }));
    expect((await store.read('c1'))?.startedAt).toBe('2026-01-01T00:00:02.000Z');
    await store.flushed();
    await Promise.all([started, last]);
    const onDisk = JSON.parse(readFileSync(join(root, 'c1', 'container.json'), 'utf8')) as ContainerRecord;
    expect(onDisk.startedAt).toBe('2026-01-01T00:00:02.000Z');
    expect((await store.read('c1'))?.startedAt).toBe('2026-01-01T00:00:02.000Z');
  });

  it('hands out copies: changing a record read does not change the store’s', async () => {
    const root = mkdtempSync(join(tmpdir(), 'skiff-store-'));
    dirs.push(root);
    const store = new ContainerStore(root);
    const pending = store.write(record('c2'));
    const rec = await store.read('c2');
    if (rec) rec.startedAt = 'changed';
    expect((await store.read('c2'))?.startedAt).toBeUndefined();
    await pending;
  });
});
