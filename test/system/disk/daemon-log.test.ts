// daemon.log of a node started in the background: private to root (0600, also when an
// older one was left 0644) and rotated by size, keeping only the newest rotated files.
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../lab/index.js';
import { socketApi, type TestNode, testNode } from '../../support/skiff-node/index.js';

describe('daemon.log', () => {
  let node: TestNode;

  beforeAll(async () => {
    node = testNode();
    node.env.SKIFF_LOG_MAX_SIZE = '8k';
    node.env.SKIFF_LOG_MAX_FILES = '2';
    node.env.SKIFF_LOG_LEVEL = 'debug';
    mkdirSync(node.stateDir, { recursive: true });
    writeFileSync(join(node.stateDir, 'daemon.log'), 'left by an older skiff\n', { mode: 0o644 });
    const started = await node.skiff(['daemon', 'start']);
    expect(started.code, started.stderr).toBe(0);
  }, 120_000);

  afterAll(async () => {
    await node?.destroy();
  }, 120_000);

  it('is 0600 and rotated by size, keeping the newest two rotated files', async () => {
    const logs = () =>
      readdirSync(node.stateDir)
        .filter((f) => f.startsWith('daemon.log'))
        .sort();
    let n = 0;
    // Each rejected request is a debug line; a few hundred of them pass 8 KiB.
    await waitFor(
      async () => {
        for (let i = 0; i < 50; i++)
          await socketApi(join(node.runDir, 'skiff.sock'), 'the test node', 'GET', `/services/nope-${n++}`);
        return (
          logs().includes('daemon.log.2') &&
          readFileSync(join(node.stateDir, 'daemon.log.2'), 'utf8').includes('nope-')
        );
      },
      { what: 'daemon.log rotated twice', timeoutMs: 60_000, intervalMs: 100 },
    );
    // Once more past the limit: the oldest goes, never a third rotated file.
    const before = readFileSync(join(node.stateDir, 'daemon.log.1'), 'utf8');
    await waitFor(
      async () => {
        for (let i = 0; i < 50; i++)
          await socketApi(join(node.runDir, 'skiff.sock'), 'the test node', 'GET', `/services/nope-${n++}`);
        return readFileSync(join(node.stateDir, 'daemon.log.2'), 'utf8') === before;
      },
      { what: 'a third rotation', timeoutMs: 60_000, intervalMs: 100 },
    );
    expect(logs()).toEqual(['daemon.log', 'daemon.log.1', 'daemon.log.2']);
    for (const f of logs())
      expect((statSync(join(node.stateDir, f)).mode & 0o777).toString(8), f).toBe('600');
    const rotated = readFileSync(join(node.stateDir, 'daemon.log.1'), 'utf8');
    expect(rotated.length).toBeGreaterThanOrEqual(8 * 1024);
    expect(rotated).toContain('"msg":"API request rejected"');
  });
});
