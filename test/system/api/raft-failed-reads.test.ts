// A manager whose raft stopped on a storage failure must not answer reads from its copy
// of the store, which no longer follows the cluster: before, its API served on (stale) for
// as long as the process took to stop. Two managers in process; the second's raft dir is
// a small tmpfs, filled once both run, so the next entry it must append fails.
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manager } from '../../../manager/index.js';
import { startInProcessManager } from '../../support/in-process-manager.js';
import { socketApi } from '../../support/skiff-node/index.js';

let dir: string;
let raftDir: string | undefined;
const managers: Manager[] = [];

async function startManager(name: string, join_?: { managerAddr: string; token: string }): Promise<Manager> {
  const m = await startInProcessManager(dir, name, join_);
  managers.push(m);
  return m;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'skiff-raft-failed-'));
});

afterAll(async () => {
  await Promise.all(managers.reverse().map((m) => m.stop().catch(() => undefined)));
  if (raftDir) {
    try {
      execFileSync('umount', [raftDir]);
    } catch {
      execFileSync('umount', ['-l', raftDir]);
    }
  }
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('a manager whose raft storage failed', () => {
  it('refuses reads at once instead of answering from a store that stopped following', async () => {
    const first = await startManager('m1');
    const token = first.store.getCluster()?.JoinTokens?.Manager;
    if (!token) throw new Error('no manager join token');
    raftDir = join(dir, 'm2', 'state', 'raft');
    mkdirSync(raftDir, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'skiff-test-raft', raftDir]);
    const second = await startManager('m2', { managerAddr: first.leaderApiAddr() ?? '', token });
    const read = () => socketApi(join(dir, 'm2', 'skiff.sock'), 'm2', 'GET', '/configs');
    expect((await read()).status).toBe(200);
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${join(raftDir, 'filler')}`, 'bs=1M'], { stdio: 'ignore' });
    } catch {}
    // The leader's next entry must be appended by m2 too; without m2 it cannot commit (2 managers).
    void first.store
      .update((tx) =>
        tx.createConfig({ Spec: { Name: 'after', Data: Buffer.alloc(64 * 1024).toString('base64') } }),
      )
      .catch(() => undefined);
    const cause = await second.failed;
    expect(cause.message).toMatch(/ENOSPC|no space/i);
    const r = await read();
    expect(r.status, JSON.stringify(r.json)).toBe(503);
    expect(JSON.stringify(r.json)).toMatch(/cannot serve reads: its raft log cannot be written/);
  }, 120_000);
});
