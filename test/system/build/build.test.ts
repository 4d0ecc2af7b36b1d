// Dockerfile builds on a real skiff node with real buildah: the docker CLI's classic
// `docker build` against the node's POST /build, then `docker run` of the result under
// crun; `skiff compose up` building a service's missing image (its context sent as a
// tar honouring .dockerignore), `up` not rebuilding, `up --build` rolling the service
// onto the new image, and a broken Dockerfile failing with buildah's message while the
// running version stays.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../lab/command.js';
import { waitFor } from '../../lab/wait.js';
import { type TestNode, testNode } from '../../support/skiff-node/index.js';

const DOCKER = existsSync('/usr/local/bin/docker') ? '/usr/local/bin/docker' : 'docker';

let node: TestNode;
let dir: string;

async function docker(args: string[], cwd?: string) {
  return runCommand(DOCKER, args, {
    env: {
      PATH: process.env.PATH,
      HOME: dir,
      DOCKER_HOST: `unix://${join(node.runDir, 'skiff.sock')}`,
      DOCKER_CONFIG: join(dir, 'docker-config'),
      DOCKER_BUILDKIT: '0',
    },
    ...(cwd ? { cwd } : {}),
    timeoutMs: 120_000,
  });
}

/** A context whose Dockerfile starts from scratch: busybox copied in, ARG, RUN, CMD. */
function context(at: string, version: string): string {
  mkdirSync(at, { recursive: true });
  copyFileSync('/bin/busybox', join(at, 'busybox'));
  writeFileSync(join(at, 'secret.txt'), 'not for the image\n');
  writeFileSync(join(at, '.dockerignore'), 'secret.txt\n');
  writeFileSync(
    join(at, 'Dockerfile'),
    [
      'FROM scratch',
      'ARG GREETING=hello',
      'COPY busybox /bin/busybox',
      'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
      'COPY . /ctx/',
      `RUN echo "$GREETING ${version}" > /greeting`,
      'CMD ["/bin/sh", "-c", "cat /greeting; ls /ctx; exec sleep 3600"]',
      '',
    ].join('\n'),
  );
  return at;
}

beforeAll(async () => {
  node = testNode();
  dir = mkdtempSync(join(tmpdir(), 'skiff-build-'));
  const started = await node.skiff(['daemon', 'start']);
  expect(started.code, started.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  await node?.skiff(['compose', '-f', join(dir, 'proj', 'compose.yaml'), 'down'], { timeoutMs: 60_000 });
  await node?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 180_000);

describe('builds with buildah into the node store', () => {
  it('docker build (classic builder) builds, docker run runs it, nothing stays in the builder', async () => {
    const ctx = context(join(dir, 'dk'), 'v1');
    const built = await docker(
      ['build', '-t', 'localhost/built:1', '--build-arg', 'GREETING=howdy', '.'],
      ctx,
    );
    expect(built.code, built.stderr).toBe(0);
    expect(built.stdout).toContain('Successfully tagged localhost/built:1');
    const ls = await docker(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}']);
    expect(ls.stdout).toContain('localhost/built:1');
    const run = await docker([
      'run',
      '--rm',
      '--entrypoint',
      '/bin/sh',
      'localhost/built:1',
      '-c',
      'cat /greeting; ls /ctx',
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('howdy v1');
    expect(run.stdout).not.toContain('secret.txt');
    // The builder's scratch storage and the unpacked context are gone.
    expect(readdirSync(join(node.stateDir, 'build'))).toEqual([]);
    expect(readdirSync(join(node.stateDir, 'tmp')).filter((f) => f.startsWith('context-'))).toEqual([]);
    const bad = await docker(['build', '-t', 'localhost/bad:1', '-f', '-', '.'], ctx);
    expect(bad.code).not.toBe(0);
  }, 240_000);

  it('compose up builds a missing image, does not rebuild, rebuilds with --build, keeps the old on failure', async () => {
    const proj = join(dir, 'proj');
    context(join(proj, 'app'), 'v1');
    const file = join(proj, 'compose.yaml');
    writeFileSync(
      file,
      'services:\n  web:\n    build:\n      context: ./app\n      args:\n        GREETING: hi\n',
    );
    const up = (extra: string[]) =>
      node.skiff(['compose', '-f', file, 'up', '-d', ...extra], { timeoutMs: 180_000 });
    const logsSay = (text: string) =>
      waitFor(async () => (await node.skiff(['compose', '-f', file, 'logs'])).stdout.includes(text), {
        what: `the service to log "${text}"`,
        timeoutMs: 60_000,
        intervalMs: 500,
      });
    const first = await up([]);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toContain('Building web');
    await logsSay('hi v1');
    const again = await up([]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).not.toContain('Building web');
    context(join(proj, 'app'), 'v2');
    const rebuilt = await up(['--build']);
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    await logsSay('hi v2');
    writeFileSync(join(proj, 'app', 'Dockerfile'), 'FROM scratch\nRUN nosuch-command\n');
    const broken = await up(['--build']);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain('service "web" failed to build');
    expect(broken.stderr).toContain('RUN nosuch-command');
    const ps = await node.skiff(['compose', '-f', file, 'ps']);
    expect(ps.stdout).toMatch(/Up /);
  }, 600_000);
});
