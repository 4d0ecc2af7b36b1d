// `skiff image push --to-cluster`: an image goes from the local node to the node the CLI
// talks to with no registry (save | load of an OCI layout, as `docker pussh` does), with
// progress; it keeps its manifest digest there (what services pin), runs there, and an
// image the local node lacks, or a push to itself, is refused by name.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand, waitFor } from '../../lab/index.js';
import { importBusybox, type TestNode, testNode } from '../../support/skiff-node/index.js';

const DOCKER = existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : 'docker';
let local: TestNode;
let cluster: TestNode;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'skiff-tocluster-'));
  local = testNode();
  cluster = testNode();
  const imported = await importBusybox(local, dir, 'shipped\n', 'localhost/ship:1');
  expect(imported.code, imported.stderr).toBe(0);
  const started = await cluster.skiff(['daemon', 'start']);
  expect(started.code, started.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  for (const n of [local, cluster]) {
    await n?.skiff(['image', 'prune', '-a']);
    await n?.destroy();
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('image push --to-cluster', () => {
  it('sends the image from the local node, keeping its digest, and refuses what it cannot send', async () => {
    const toCluster = ['-H', `unix://${join(cluster.runDir, 'skiff.sock')}`, 'image', 'push', '--to-cluster'];
    const pushed = await local.skiff([...toCluster, 'localhost/ship:1']);
    expect(pushed.code, pushed.stderr).toBe(0);
    const mine = JSON.parse((await local.skiff(['image', 'inspect', 'localhost/ship:1'])).stdout) as {
      Id: string;
      Manifest: { Digest: string };
    }[];
    expect(pushed.stdout.trim()).toBe(`localhost/ship:1@${mine[0]!.Manifest.Digest}`);
    expect(pushed.stderr).toMatch(/Sending localhost\/ship:1: [\d.]+[kM]?B\/[\d.]+[kM]?B/);
    expect(pushed.stderr).toContain('Loaded image: localhost/ship:1');

    const theirs = JSON.parse((await cluster.skiff(['image', 'inspect', 'localhost/ship:1'])).stdout) as {
      Id: string;
      Manifest: { Digest: string };
    }[];
    expect(theirs[0]).toMatchObject({ Id: mine[0]!.Id, Manifest: { Digest: mine[0]!.Manifest.Digest } });
    const docker = (n: TestNode, args: string[]) =>
      runCommand(DOCKER, args, {
        env: {
          PATH: process.env.PATH,
          HOME: dir,
          DOCKER_HOST: `unix://${join(n.runDir, 'skiff.sock')}`,
          DOCKER_CONFIG: join(dir, 'docker-config'),
        },
        timeoutMs: 120_000,
      });
    const run = await docker(cluster, ['run', '--rm', 'localhost/ship:1', 'cat', '/www/index.html']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('shipped');
    // The docker CLI's save and load use the same endpoints.
    const archive = join(dir, 'ship.tar');
    const saved = await docker(local, ['save', '-o', archive, 'localhost/ship:1']);
    expect(saved.code, saved.stderr).toBe(0);
    expect((await docker(cluster, ['rmi', 'localhost/ship:1'])).code).toBe(0);
    const loaded = await docker(cluster, ['load', '-i', archive]);
    expect(loaded.code, loaded.stderr).toBe(0);
    expect(loaded.stdout).toContain('Loaded image: localhost/ship:1');
    // Nothing of the transfer is left on either side: a load's upload is gone before its
    // answer; a save's scratch goes once the connection that carried its last byte
    // closed, soon after the client has it all.
    const scratch = (kind: string) =>
      [local, cluster].flatMap((n) =>
        readdirSync(join(n.stateDir, 'tmp')).filter((f) => f.startsWith(`${kind}-`)),
      );
    expect(scratch('load')).toEqual([]);
    await waitFor(() => scratch('save').length === 0, {
      what: `no save scratch left (${scratch('save').join(', ')})`,
      timeoutMs: 10_000,
    });

    const missing = await local.skiff([...toCluster, 'localhost/nosuch:1']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('No such image on unix://');
    expect(missing.stderr).toContain('localhost/nosuch:1');
    const itself = await local.skiff(['image', 'push', '--to-cluster', 'localhost/ship:1']);
    expect(itself.code).not.toBe(0);
    expect(itself.stderr).toContain('to itself');
  }, 300_000);
});
