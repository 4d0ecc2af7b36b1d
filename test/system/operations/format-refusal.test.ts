// A node meeting a store format newer than it reads refuses it, naming both versions,
// and does not start (never misreads it): here a backup whose store snapshot a newer
// skiff wrote (format STORE_FORMAT + 1) is restored, and `skiff daemon run` exits with
// the message, in the foreground and from `skiff daemon start`.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBackup, encodeBackup } from '../../../manager/backup/format.js';
import { STORE_FORMAT } from '../../../manager/store/format.js';
import { removeNodeLeftovers, type TestNode, testNode } from '../../support/skiff-node/index.js';

describe('a store format newer than this skiff reads', () => {
  let node: TestNode;
  let dir: string;

  beforeAll(() => {
    node = testNode();
    dir = mkdtempSync(join(tmpdir(), 'skiff-format-'));
  });

  afterAll(async () => {
    await node?.skiff(['daemon', 'stop'], { timeoutMs: 60_000 });
    await node?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is refused at start with both versions named', async () => {
    const made = await node.skiff(['daemon', 'start'], { timeoutMs: 90_000 });
    expect(made.code, made.stderr).toBe(0);
    const file = join(dir, 'cluster.backup');
    const backup = await node.skiff(['cluster', 'backup', file]);
    expect(backup.code, backup.stderr).toBe(0);
    const stop = await node.skiff(['daemon', 'stop'], { timeoutMs: 60_000 });
    expect(stop.code, stop.stderr).toBe(0);
    await removeNodeLeftovers(node.stateRoot, node.runDir);
    rmSync(node.stateDir, { recursive: true, force: true });

    // The same state, as a newer skiff would have written its store snapshot.
    const body = decodeBackup(readFileSync(file), file);
    const store = JSON.parse(Buffer.from(body.store, 'base64').toString()) as { v: number };
    expect(store.v).toBe(STORE_FORMAT);
    store.v = STORE_FORMAT + 1;
    const newer = join(dir, 'newer.backup');
    writeFileSync(
      newer,
      encodeBackup({ ...body, store: Buffer.from(JSON.stringify(store)).toString('base64') }),
    );
    const restore = await node.skiff(['cluster', 'restore', newer]);
    expect(restore.code, restore.stderr).toBe(0);

    const message = `the store snapshot is of store format ${STORE_FORMAT + 1}; this skiff reads store formats 1 to ${STORE_FORMAT}`;
    // In the foreground: the node's own error on stderr.
    const start = await node.skiff(['daemon', 'run'], { timeoutMs: 90_000 });
    expect(start.code).not.toBe(0);
    expect(start.stderr).toContain(message);
    // In the background: `daemon start` says the same, not only where its log is.
    const background = await node.skiff(['daemon', 'start'], { timeoutMs: 90_000 });
    expect(background.code).not.toBe(0);
    expect(background.stderr).toContain(message);
  }, 180_000);
});
