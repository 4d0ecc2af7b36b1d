// A manager that left its cluster starts a new one on the same machine: `cluster leave`
// forgets every file of the old membership, the raft data key file included (wrapped by
// the old cluster's keys, it stopped the next `cluster init` from starting).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testNode } from '../../support/skiff-node/index.js';

describe('leaving a cluster and starting another', () => {
  const node = testNode();

  afterAll(async () => {
    await node.skiff(['cluster', 'leave', '--force'], { timeoutMs: 60_000 }).catch(() => {});
    await node.destroy();
  }, 120_000);

  it('init, leave --force, init again', async () => {
    const first = await node.skiff(['cluster', 'init', '--advertise-addr', '127.0.0.1'], {
      timeoutMs: 90_000,
    });
    expect(first.code, first.stderr).toBe(0);
    expect(existsSync(join(node.stateDir, 'raft-dek.json'))).toBe(true);
    const left = await node.skiff(['cluster', 'leave', '--force'], { timeoutMs: 60_000 });
    expect(left.code, left.stderr).toBe(0);
    expect(existsSync(join(node.stateDir, 'raft-dek.json'))).toBe(false);
    const again = await node.skiff(['cluster', 'init', '--advertise-addr', '127.0.0.1'], {
      timeoutMs: 90_000,
    });
    expect(again.code, again.stderr).toBe(0);
    const ls = await node.skiff(['node', 'ls', '--format', 'json']);
    expect(ls.code, ls.stderr).toBe(0);
    // One JSON line per node, as docker prints it: only this one.
    expect(
      ls.stdout
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { Self: boolean }),
    ).toEqual([expect.objectContaining({ Self: true })]);
  }, 240_000);
});
