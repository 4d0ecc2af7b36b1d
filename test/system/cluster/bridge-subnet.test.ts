// A cluster node's `bridge` network (standalone containers) does not take a subnet its
// host already routes: on a lab host that has a docker0-like interface on 172.17.0.0/16
// before skiff starts, `docker run` gives the container an address in 172.18.0.0/16, and
// a host without one keeps dockerd's 172.17.0.0/16. The choice is kept across a restart.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../lab/index.js';
import {
  LAB_IMAGE,
  type LabCluster,
  type LabClusterNode,
  logTail,
  startLabCluster,
} from '../../support/lab-cluster.js';

const DOCKER = existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : 'docker';

describe("a cluster node's bridge subnet", () => {
  let c: LabCluster;

  beforeAll(async () => {
    c = await startLabCluster({ managers: 1, spare: 1, image: true });
  }, 240_000);

  afterAll(async () => {
    await c?.destroy();
  }, 120_000);

  async function docker(n: LabClusterNode, args: string[]) {
    const r = await n.host.exec(DOCKER, ['-H', `unix://${join(n.runDir, 'skiff.sock')}`, ...args], {
      env: { PATH: process.env.PATH, HOME: n.stateRoot, DOCKER_CONFIG: join(n.stateRoot, 'docker') },
      timeoutMs: 90_000,
    });
    expect(r.code, `docker ${args.join(' ')}: ${r.stderr}\n${logTail(n)}`).toBe(0);
    return r.stdout.trim();
  }

  /** The address a standalone container gets on the node (`run -d`: a worker serves no /events for `--rm`). */
  async function containerAddress(n: LabClusterNode): Promise<string> {
    const id = await docker(n, [
      'run',
      '-d',
      LAB_IMAGE,
      'sh',
      '-c',
      'busybox ip -4 -o addr show eth0; exec sleep 600',
    ]);
    try {
      const out = await waitFor(
        async () => /inet (\d+\.\d+\.\d+\.\d+)\//.exec(await docker(n, ['logs', id]))?.[1],
        { what: `the address in ${id}'s output`, timeoutMs: 30_000 },
      );
      return out;
    } finally {
      await docker(n, ['rm', '-f', id]);
    }
  }

  it('steps past a subnet the host routes already', async () => {
    const [manager] = c.managers;
    const spare = c.nodes.find((n) => n.id === '');
    if (!manager || !spare) throw new Error('lab cluster without a manager and a spare host');
    // As dockerd's docker0 would, before skiff starts on the host.
    for (const args of [
      ['link', 'add', 'sk-docker0', 'type', 'bridge'],
      ['addr', 'add', '172.17.0.1/16', 'dev', 'sk-docker0'],
      ['link', 'set', 'sk-docker0', 'up'],
    ]) {
      const r = await spare.host.exec('ip', args);
      expect(r.code, r.stderr).toBe(0);
    }
    await c.join(spare);

    expect(await containerAddress(manager)).toMatch(/^172\.17\./);
    expect(await containerAddress(spare)).toMatch(/^172\.18\./);
    expect(readFileSync(join(spare.stateDir, 'bridge-subnet'), 'utf8').trim()).toBe('172.18.0.0/16');

    // Kept across a restart, though skiff's own bridge now routes 172.18.0.0/16.
    await c.killDaemon(spare);
    await c.restartDaemon(spare);
    expect(await containerAddress(spare)).toMatch(/^172\.18\./);
  }, 300_000);
});
