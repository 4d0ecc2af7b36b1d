// The real docker CLI against a worker's own socket: a worker serves the node-local
// Engine API (containers, images) as every dockerd does. `docker run --rm` there prints
// the output and returns the exit code; the worker's /_ping carries the API version
// (without it the CLI falls back to 1.24, whose `run --rm` follows /events), and its
// /events shows this node's containers.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inNetns } from '../../../lab/index.js';
import { runCommand } from '../../lab/command.js';
import { LAB_IMAGE, type LabCluster, type LabClusterNode, startLabCluster } from './helpers.js';

const DOCKER = existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : 'docker';

describe('docker CLI on a worker', () => {
  let c: LabCluster;
  let worker: LabClusterNode;

  async function docker(args: string[], timeoutMs = 60_000) {
    const [cmd, argv] = inNetns(worker.host.netns, DOCKER, args, true);
    return runCommand(cmd, argv, {
      env: {
        PATH: process.env.PATH,
        HOME: worker.stateRoot,
        DOCKER_HOST: `unix://${worker.runDir}/skiff.sock`,
        DOCKER_CONFIG: `${worker.stateRoot}/docker-config`,
      },
      timeoutMs,
    });
  }

  beforeAll(async () => {
    c = await startLabCluster({ managers: 1, workers: 1, image: true });
    worker = c.workers[0] as LabClusterNode;
  }, 300_000);

  afterAll(async () => {
    await c?.destroy();
  }, 120_000);

  it('negotiates the current API version', async () => {
    const r = await docker(['version', '--format', '{{.Client.APIVersion}}']);
    expect(r.stdout.trim()).toBe('1.44');
  });

  it('run --rm prints the output and returns the exit code', async () => {
    const r = await docker(['run', '--rm', LAB_IMAGE, 'sh', '-c', 'echo on-worker; exit 3']);
    expect(r.code, r.stderr).toBe(3);
    expect(r.stdout).toBe('on-worker\n');
    const left = await docker(['ps', '-aq', '--filter', 'label=io.skiff.container.standalone']);
    expect(left.stdout.trim()).toBe('');
  }, 60_000);

  it('events shows this node’s containers', async () => {
    const since = String(Math.floor(Date.now() / 1000) - 1);
    const r0 = await docker(['run', '--rm', '--name', 'ev-one', LAB_IMAGE, 'true']);
    expect(r0.code, r0.stderr).toBe(0);
    const until = String(Math.floor(Date.now() / 1000) + 1);
    const r = await docker([
      'events',
      '--since',
      since,
      '--until',
      until,
      '--filter',
      'container=ev-one',
      '--format',
      '{{.Action}}',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split('\n')).toEqual(expect.arrayContaining(['create', 'start', 'die', 'destroy']));
  }, 60_000);
});
