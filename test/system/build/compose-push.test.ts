// `skiff compose push` as docker compose push: the built images of the services that
// name one (`image:` and `build.tags`) go from the node to their registry with the CLI's
// credentials (`skiff login`, docker's config.json); a built service without a name is
// skipped; without credentials the registry's refusal is said and the exit code is 1.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectImage, startRegistry, type TestRegistry } from '../../fixtures/index.js';
import { type TestNode, testNode } from '../../support/skiff-node/index.js';

const USER = { user: 'pusher', password: 'pushpass' };
let node: TestNode;
let registry: TestRegistry;
let dir: string;

beforeAll(async () => {
  registry = await startRegistry({ htpasswd: USER });
  node = testNode();
  dir = mkdtempSync(join(tmpdir(), 'skiff-cpush-'));
  const started = await node.skiff(['daemon', 'start']);
  expect(started.code, started.stderr).toBe(0);
}, 120_000);

afterAll(async () => {
  await node?.skiff(['image', 'prune', '-a']);
  await node?.destroy();
  await registry?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

describe('compose push', () => {
  it('pushes the built, named images to their registry with the CLI credentials', async () => {
    const app = join(dir, 'app');
    mkdirSync(app, { recursive: true });
    copyFileSync('/bin/busybox', join(app, 'busybox'));
    writeFileSync(
      join(app, 'Dockerfile'),
      'FROM scratch\nCOPY busybox /bin/busybox\nCMD ["/bin/busybox", "true"]\n',
    );
    const file = join(dir, 'compose.yaml');
    const repo = `${registry.host}/proj/app`;
    writeFileSync(
      file,
      [
        'services:',
        '  app:',
        `    image: ${repo}:1`,
        '    build:',
        '      context: ./app',
        `      tags: ["${repo}:extra"]`,
        '  unnamed:',
        '    build: ./app',
        '  pulled:',
        '    image: localhost/never-pushed:1',
        '',
      ].join('\n'),
    );
    // The CLI's credentials live in docker's config.json under DOCKER_CONFIG.
    const env = { DOCKER_CONFIG: join(dir, 'docker-config') };
    const cli = (args: string[]) => node.skiff(args, { env, timeoutMs: 180_000 });
    const built = await cli(['compose', '-f', file, 'build']);
    expect(built.code, built.stderr).toBe(0);

    const refused = await cli(['compose', '-f', file, 'push']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`authentication required for ${registry.host}`);

    const login = await cli(['login', '-u', USER.user, '-p', USER.password, registry.host]);
    expect(login.code, login.stderr).toBe(0);
    const push = await cli(['compose', '-f', file, 'push']);
    expect(push.code, push.stderr).toBe(0);
    expect(push.stderr).toContain('Skipped unnamed: it names no image');
    expect(push.stderr).not.toContain('never-pushed');
    const local = JSON.parse((await cli(['image', 'inspect', `${repo}:1`])).stdout) as {
      Manifest: { Digest: string };
    }[];
    for (const tag of ['1', 'extra']) {
      const remote = await inspectImage(`${repo}:${tag}`, { creds: USER });
      expect(remote.Digest).toBe(local[0]!.Manifest.Digest);
    }
    // Only the named services are pushed; an unknown one is refused by name.
    const unknown = await cli(['compose', '-f', file, 'push', 'nosuch']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('no such service: nosuch');
  }, 300_000);
});
