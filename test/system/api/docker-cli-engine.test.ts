// The real docker CLI (Docker 28 client) against a running skiff node, in the CLI's
// default modes: attached `service create`/`update` and `stack deploy`, API version
// negotiation and Docker's error shapes, and standalone containers (`docker run`, `ps`,
// `logs`, `inspect`, `stop`, `rm`).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dockerNode } from '../../support/docker-cli.js';

const IMAGE = 'localhost/dk-engine:1';

const d = dockerNode({
  image: IMAGE,
  page: 'engine\n',
  tmpPrefix: 'skiff-dkeng-',
  cleanup: () => [['service', 'rm', 'att', 'attst_web']],
});
const { docker, ok } = d;

describe('docker CLI, attached swarm flows', () => {
  it('service create and service update --force without --detach follow the tasks to convergence', async () => {
    const created = await docker(['service', 'create', '--name', 'att', IMAGE, 'sleep', '600'], {
      timeoutMs: 90_000,
    });
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout + created.stderr).toMatch(/verify: Service \S+ converged/);
    const updated = await docker(['service', 'update', '--force', 'att'], { timeoutMs: 90_000 });
    expect(updated.code, updated.stderr).toBe(0);
    expect(updated.stdout + updated.stderr).toMatch(/verify: Service \S+ converged/);
    // One task runs the current spec; the forced update replaced the first.
    const current = await ok(['service', 'ps', '-q', '--filter', 'desired-state=running', 'att']);
    expect(current.split('\n')).toHaveLength(1);
    // docker ps shows the task's container with Swarm's labels, as on a dockerd node.
    const tasks = await ok([
      'ps',
      '--filter',
      'is-task=true',
      '--format',
      '{{.Names}} {{.Label "com.docker.swarm.service.name"}} {{.Label "com.docker.swarm.task.id"}}',
    ]);
    expect(tasks).toMatch(new RegExp(`^att\\.1\\.${current}[a-z0-9]* att ${current}`, 'm'));
    expect(await ok(['service', 'rm', 'att'])).toBe('att');
  }, 200_000);

  it('stack deploy --detach=false waits for the stack', async () => {
    const file = join(d.dir, 'stack.yml');
    writeFileSync(file, `services:\n  web:\n    image: ${IMAGE}\n    command: ["sleep", "600"]\n`);
    const r = await docker(['stack', 'deploy', '--detach=false', '-c', file, 'attst'], { timeoutMs: 90_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/verify: Service \S+ converged/);
    await ok(['stack', 'rm', 'attst']);
  }, 120_000);

  it('an unknown list filter is refused as dockerd refuses it', async () => {
    const r = await docker(['service', 'ls', '--filter', 'colour=blue']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("invalid filter 'colour'");
  });
});

describe('docker CLI, API versions and errors', () => {
  it('negotiates its version and reads Docker-shaped errors', async () => {
    const v = JSON.parse(await ok(['version', '--format', '{{json .Server}}'])) as {
      ApiVersion: string;
      MinAPIVersion: string;
    };
    expect(v).toMatchObject({ ApiVersion: '1.44', MinAPIVersion: '1.24' });
    const missing = await docker(['container', 'inspect', 'no-such-thing']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('No such container: no-such-thing');
  });
});

describe('docker CLI, standalone containers', () => {
  it('run --rm prints the output and returns the exit code, leaving nothing', async () => {
    const hi = await docker(['run', '--rm', IMAGE, 'echo', 'hi']);
    expect(hi.code, hi.stderr).toBe(0);
    expect(hi.stdout).toBe('hi\n');
    const three = await docker(['run', '--rm', IMAGE, 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(three.code).toBe(3);
    expect(three.stdout).toBe('out\n');
    expect(three.stderr).toContain('err');
    expect(await ok(['ps', '-aq', '--filter', 'label=io.skiff.container.standalone'])).toBe('');
  }, 120_000);

  it('run -d, ps, logs, inspect -f, stop, rm', async () => {
    const id = await ok([
      'run',
      '-d',
      '--name',
      'dk-web',
      '-e',
      'GREETING=hello',
      IMAGE,
      'sh',
      '-c',
      'echo $GREETING; exec sleep 600',
    ]);
    expect(id).toMatch(/^[a-f0-9]{64}$/);
    try {
      const ps = await ok(['ps', '--format', '{{.Names}} {{.Image}} {{.Status}}']);
      expect(ps).toMatch(/^dk-web localhost\/dk-engine:1 Up /m);
      await expect.poll(async () => ok(['logs', 'dk-web']), { timeout: 20_000, interval: 200 }).toBe('hello');
      expect(await ok(['inspect', '-f', '{{.State.Status}}', 'dk-web'])).toBe('running');
      const again = await docker(['run', '-d', '--name', 'dk-web', IMAGE, 'true']);
      expect(again.code).toBe(125);
      expect(again.stderr).toContain('is already in use');
      const busy = await docker(['rm', 'dk-web']);
      expect(busy.code).toBe(1);
      expect(busy.stderr).toContain('container is running');
      expect(await ok(['stop', '-t', '1', 'dk-web'])).toBe('dk-web');
      expect(await ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'dk-web'])).toMatch(
        /^exited \d+$/,
      );
      // Follows until the container has exited: it returns at once now.
      expect(await ok(['logs', '-f', 'dk-web'])).toBe('hello');
      expect(await ok(['ps', '-q', '--filter', 'name=dk-web'])).toBe('');
      expect(await ok(['ps', '-aq', '--filter', 'name=dk-web'])).toBe(id.slice(0, 12));
    } finally {
      await docker(['rm', '-f', 'dk-web']);
    }
    const gone = await docker(['inspect', 'dk-web']);
    expect(gone.code).toBe(1);
  }, 120_000);

  it('refuses what skiff does not run yet, by name', async () => {
    const r = await docker(['run', '--rm', '--privileged', IMAGE, 'true']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('HostConfig.Privileged is not supported by skiff yet');
  });
});
