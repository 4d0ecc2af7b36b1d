// The real docker CLI's exec against a skiff node: `docker exec` with output, exit codes
// and piped stdin (the hijacked connection and its half-close), and `docker exec -it`
// under a pseudo-terminal (`script`) typing into the container's own terminal.
import { beforeAll, describe, expect, it } from 'vitest';
import { DOCKER, dockerNode } from '../../support/docker-cli.js';
import { underTerminal } from '../../support/terminal.js';

const IMAGE = 'localhost/dk-exec:1';
const NAME = 'dk-exec';

const { docker, env } = dockerNode({
  image: IMAGE,
  page: 'exec\n',
  tmpPrefix: 'skiff-dkexec-',
  cleanup: () => [
    ['rm', '-f', NAME],
    ['service', 'rm', 'dk-exec-svc'],
  ],
});

beforeAll(async () => {
  const run = await docker(['run', '-d', '--name', NAME, IMAGE, 'sleep', '600']);
  expect(run.code, run.stderr).toBe(0);
}, 120_000);

describe('docker exec against a skiff node', () => {
  it('prints the output and returns the exit code', async () => {
    const hi = await docker(['exec', NAME, 'echo', 'hi']);
    expect(hi.code, hi.stderr).toBe(0);
    expect(hi.stdout).toBe('hi\n');
    const three = await docker(['exec', NAME, 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(three.code).toBe(3);
    expect(three.stdout).toBe('out\n');
    expect(three.stderr).toBe('err\n');
    const env = await docker(['exec', '-e', 'WHO=skiff', '-w', '/tmp', NAME, 'sh', '-c', 'echo $WHO $(pwd)']);
    expect(env.stdout).toBe('skiff /tmp\n');
  }, 60_000);

  it('feeds piped stdin to the command up to its end (-i)', async () => {
    const cat = await docker(['exec', '-i', NAME, 'sh', '-c', 'cat; echo done'], {
      input: 'line one\nline two\n',
    });
    expect(cat.code, cat.stderr).toBe(0);
    expect(cat.stdout).toBe('line one\nline two\ndone\n');
    // More than the socket's and the pipe's buffers hold (~200 KB): nothing lost or stuck.
    const lines = `${'x'.repeat(19)}\n`.repeat(10_000);
    const count = await docker(
      ['exec', '-i', NAME, 'sh', '-c', 'n=0; while read -r l; do n=$((n+1)); done; echo $n'],
      { input: lines },
    );
    expect(count.code, count.stderr).toBe(0);
    expect(count.stdout.trim()).toBe('10000');
  }, 60_000);

  it('exec -it echoes typed input in the container terminal, sized as the user terminal', async () => {
    const r = await underTerminal(
      `stty rows 33 cols 111; ${DOCKER} exec -it ${NAME} sh`,
      [
        { waitFor: /\/ # /, type: 'stty size; tty; echo $((6*7))\r' },
        { waitFor: /^42\r?$/m, type: 'exit 5\r' },
      ],
      { env: env() },
    );
    expect(r.code).toBe(5);
    // Typed text comes back from the container's terminal (the user's is raw meanwhile).
    expect(r.output).toContain('stty size; tty; echo $((6*7))');
    expect(r.output).toMatch(/^33 111\r$/m);
    expect(r.output).toMatch(/^\/dev\/pts\/\d+\r$/m);
  }, 90_000);

  it('execs into a service task’s container on the node', async () => {
    const created = await docker([
      'service',
      'create',
      '--detach',
      '--name',
      'dk-exec-svc',
      IMAGE,
      'sleep',
      '600',
    ]);
    expect(created.code, created.stderr).toBe(0);
    try {
      const filter = ['ps', '-q', '--filter', 'label=com.docker.swarm.service.name=dk-exec-svc'];
      let id = '';
      await expect
        .poll(
          async () => {
            id = (await docker(filter)).stdout.trim();
            return id;
          },
          { timeout: 60_000, interval: 250 },
        )
        .toMatch(/^\w+$/);
      const r = await docker(['exec', id, 'sh', '-c', 'echo in task; exit 2']);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe('in task\n');
    } finally {
      await docker(['service', 'rm', 'dk-exec-svc']);
    }
  }, 120_000);

  it('refuses what it does not do, by name, and answers 404 for unknown containers', async () => {
    const priv = await docker(['exec', '--privileged', NAME, 'true']);
    expect(priv.code).not.toBe(0);
    expect(priv.stderr).toContain('Privileged exec is not supported by skiff');
    const keys = await docker(['exec', '--detach-keys', 'ctrl-x', NAME, 'true']);
    expect(keys.code).not.toBe(0);
    expect(keys.stderr).toContain('detachKeys are not supported');
    const missing = await docker(['exec', 'no-such-ctr', 'true']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('No such container: no-such-ctr');
    const bad = await docker(['exec', NAME, 'no-such-command']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('no-such-command');
  }, 60_000);
});
