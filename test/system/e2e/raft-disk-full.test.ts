// A manager whose raft log cannot be written (its disk is full) stops with a clear fatal
// log line and a non-zero status instead of serving on: the raft directory of a real node
// is a small tmpfs, filled once the node runs, and a write through the API must end it.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../lab/index.js';
import { socketApi, type TestNode, testNode } from '../../support/skiff-node/index.js';

describe('a manager whose raft disk is full', () => {
  let node: TestNode;
  let raftDir: string;
  let mounted = false;

  beforeAll(async () => {
    node = testNode();
    raftDir = join(node.stateDir, 'raft');
    mkdirSync(raftDir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'skiff-test-raft', raftDir]);
    mounted = true;
    const start = await node.skiff(['daemon', 'start']);
    expect(start.code, start.stderr).toBe(0);
  }, 120_000);

  afterAll(async () => {
    // The node may already be gone; stop whatever is left, then free the mount.
    await node?.skiff(['daemon', 'stop'], { timeoutMs: 30_000 });
    if (mounted) {
      try {
        execFileSync('umount', [raftDir]);
      } catch {
        execFileSync('umount', ['-l', raftDir]);
      }
    }
    await node?.destroy();
  }, 120_000);

  it('exits with a fatal log line on the next write instead of serving on', async () => {
    const api = (method: string, path: string, body?: unknown) =>
      socketApi(join(node.runDir, 'skiff.sock'), 'test node', method, path, body);
    const before = await api('POST', '/configs/create', {
      Name: 'before',
      Data: Buffer.from('a').toString('base64'),
    });
    expect(before.status).toBe(201);
    // Fill the tmpfs: dd stops (non-zero) at ENOSPC.
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${join(raftDir, 'filler')}`, 'bs=1M'], { stdio: 'ignore' });
    } catch {}
    const payload = Buffer.alloc(64 * 1024, 'x').toString('base64');
    const write = await api('POST', '/configs/create', { Name: 'after', Data: payload }).catch(
      (e: Error) => ({
        status: 0,
        json: e.message,
      }),
    );
    expect(write.status).not.toBe(201);
    await waitFor(async () => (await node.skiff(['daemon', 'status'])).code === 3, {
      what: 'the node to exit after its raft log failed',
      timeoutMs: 30_000,
      intervalMs: 300,
    });
    const log = readFileSync(join(node.stateDir, 'daemon.log'), 'utf8');
    expect(log).toMatch(/the raft log cannot be written \(disk full or failing\?\): stopping the node/);
    expect(log).toMatch(/ENOSPC/);
  }, 90_000);
});
