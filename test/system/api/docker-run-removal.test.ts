// The real docker CLI against a skiff node: a removed container is gone for clients at
// once while its remains (runtime state, namespace, interfaces, writable layer) are
// released behind the answer. What follows a removal must not see them (a network or
// volume it used, its name), and a node killed before they are released finishes the job
// at its next start, leaving nothing.
import { existsSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../lab/index.js';
import { dockerNode } from '../../support/docker-cli.js';

const IMAGE = 'localhost/dk-removal:1';

const d = dockerNode({
  image: IMAGE,
  page: 'removal\n',
  tmpPrefix: 'skiff-dkrm-',
  cleanup: () => [
    ['network', 'rm', 'rmnet'],
    ['volume', 'rm', 'rmvol'],
  ],
});
const { docker, ok } = d;

/** Where a container of the node leaves something, by its ID. */
function remainsOf(id: string): string[] {
  const state = d.node.stateDir;
  const run = d.node.runDir;
  const paths = [
    join(state, 'engine-containers', `${id}.json`),
    join(state, 'engine-containers', `${id}.removing`),
    join(state, 'runtime', id),
    join(state, 'containers', id),
    join(state, 'network', 'attachments', `${id}.json`),
    join(run, 'runtime', id),
    join(run, 'runtime', 'crun', id),
    join(run, 'network', 'netns', id),
  ].filter((p) => existsSync(p));
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .filter((l) => l.includes(id));
  // host-local IPAM keeps one file per address, holding the container's ID.
  const ipamRoot = join(state, 'network', 'ipam');
  const addresses = existsSync(ipamRoot)
    ? readdirSync(ipamRoot).flatMap((net) =>
        readdirSync(join(ipamRoot, net))
          .filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f))
          .filter((f) => readFileSync(join(ipamRoot, net, f), 'utf8').includes(id))
          .map((f) => `${net}/${f}`),
      )
    : [];
  return [...paths, ...mounts, ...addresses];
}

describe('docker CLI, what a removal leaves behind', () => {
  it('right after run --rm: the network, volume and name it used are free', async () => {
    await ok(['network', 'create', 'rmnet']);
    await ok(['volume', 'create', 'rmvol']);
    for (let i = 0; i < 3; i++) {
      const r = await docker([
        'run',
        '--rm',
        '--name',
        'rm-again',
        '--network',
        'rmnet',
        '-v',
        'rmvol:/data',
        IMAGE,
        'sh',
        '-c',
        'echo hi > /data/x',
      ]);
      expect(r.code, r.stderr).toBe(0);
    }
    expect(await ok(['ps', '-aq', '--filter', 'name=rm-again'])).toBe('');
    // Each waits for the remains of the removed containers, never refused as "in use".
    expect(await ok(['volume', 'rm', 'rmvol'])).toBe('rmvol');
    expect(await ok(['network', 'rm', 'rmnet'])).toBe('rmnet');
  }, 120_000);

  it('docker events has the destroy of a run --rm by the time run answers', async () => {
    // dockerd says destroy before the removal answers; skiff said it after the remains
    // were released behind the answer, so an events read that ended then missed it.
    const since = String(Math.floor(Date.now() / 1000) - 1);
    expect((await docker(['run', '--rm', '--name', 'rm-events', IMAGE, 'true'])).code).toBe(0);
    const until = String(Date.now() / 1000);
    const r = await docker([
      'events',
      '--since',
      since,
      '--until',
      until,
      '--filter',
      'container=rm-events',
      '--format',
      '{{.Action}}',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['create', 'start', 'die', 'destroy']);
  }, 60_000);

  it('a node killed with a removal half done releases the rest at its next start', async () => {
    const id = await ok(['run', '-d', '--name', 'rm-crash', IMAGE, 'true']);
    await waitFor(async () => (await ok(['inspect', '-f', '{{.State.Status}}', id])) === 'exited', {
      what: 'the container to exit',
      timeoutMs: 30_000,
    });
    expect(remainsOf(id).length).toBeGreaterThan(0);
    // Killed right after the removal buried the container, before its clean-up ran.
    const pid = Number(readFileSync(join(d.node.runDir, 'skiff.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    await waitFor(
      () => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      },
      { what: 'the node process to die', timeoutMs: 20_000 },
    );
    const records = join(d.node.stateDir, 'engine-containers');
    renameSync(join(records, `${id}.json`), join(records, `${id}.removing`));

    const started = await d.node.skiff(['daemon', 'start'], { timeoutMs: 120_000 });
    expect(started.code, started.stderr).toBe(0);
    expect(await ok(['ps', '-aq', '--filter', 'name=rm-crash'])).toBe('');
    await waitFor(() => remainsOf(id).length === 0, {
      what: `the remains of ${id} to be released`,
      timeoutMs: 60_000,
    }).catch((e: unknown) => {
      throw new Error(`${String(e)}: ${remainsOf(id).join(', ')}`);
    });
    // Its name is free again.
    expect((await docker(['run', '--rm', '--name', 'rm-crash', IMAGE, 'true'])).code).toBe(0);
  }, 180_000);
});
