// An agent killed while it prepared a task (or tore one down) leaves the task's writable
// layer mounted and its network namespace, with no container; when the task is gone by
// the time the agent starts again, the agent removes them. Found by the chaos run (seed
// 7): such leftovers stayed on the hosts for good.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../lab/index.js';
import { type LabCluster, type LabClusterNode, logTail, startLabCluster } from '../../support/lab-cluster.js';

let c: LabCluster;

beforeAll(async () => {
  c = await startLabCluster({ managers: 1 });
}, 300_000);

afterAll(async () => {
  await c?.destroy();
}, 120_000);

const mountsOf = (id: string) =>
  readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m.includes(id));

async function run(n: LabClusterNode, cmd: string, args: string[]): Promise<void> {
  const r = await n.host.exec(cmd, args, { sharedMounts: true });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}

describe('an agent that starts again after it was killed while preparing a task', () => {
  it('removes the mounted writable layer and the namespace of a task no longer assigned', async () => {
    const n = c.managers[0]!;
    await c.killDaemon(n);

    // What the killed agent left of a task the cluster no longer has: its writable layer
    // mounted (overlay, as the snapshotter mounts it) and its named network namespace.
    const id = `leftover${'0'.repeat(16)}1`;
    const layer = join(n.stateDir, 'containers', id);
    for (const d of ['lower', 'upper', 'work', 'rootfs']) mkdirSync(join(layer, d), { recursive: true });
    await run(n, 'mount', [
      '-t',
      'overlay',
      'overlay',
      '-o',
      `lowerdir=${join(layer, 'lower')},upperdir=${join(layer, 'upper')},workdir=${join(layer, 'work')}`,
      join(layer, 'rootfs'),
    ]);
    const netns = join(n.runDir, 'network', 'netns', id);
    mkdirSync(join(n.runDir, 'network', 'netns'), { recursive: true });
    writeFileSync(netns, '');
    await run(n, 'unshare', [`--net=${netns}`, 'true']);
    expect(mountsOf(id)).toHaveLength(2);

    await c.restartDaemon(n);
    await waitFor(() => mountsOf(id).length === 0 && !existsSync(netns) && !existsSync(layer), {
      what: `the agent to remove what task ${id} left (mounts: ${mountsOf(id).join(', ')})`,
      timeoutMs: 60_000,
    }).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\n${logTail(n, 40)}`);
    });
  });
});
