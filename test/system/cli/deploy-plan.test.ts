// Plan before deploy and secret rotation (issue 23, items 4 and 5), on a real node:
// `stack deploy --dry-run` lists a new stack's services as creations and creates
// nothing, a re-deploy of the same file plans no change, an env change shows the
// variable, errors exit 2; a re-deploy after the secret file changed rolls the task onto
// a new version at the same path and removes the old one.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, runCommand, waitFor } from '../../lab/index.js';
import { importBusybox, type TestNode, testNode } from '../../support/skiff-node/index.js';

describe('stack deploy --dry-run and secret rotation', () => {
  let node: TestNode;
  let dir: string;
  let port: number;

  const deploy = (args: string[], env: Record<string, string> = {}) =>
    node.skiff(['stack', 'deploy', '-c', 'stack.yaml', ...args, 'plan'], {
      cwd: dir,
      env: { GREETING: 'hello', ...env },
    });
  const secretNames = async () =>
    (await node.skiff(['secret', 'ls', '--format', '{{.Name}}'])).stdout.trim().split('\n').filter(Boolean);
  /** The secret file as the running task reads it, served by httpd from /run/secrets. */
  const served = async () => {
    const r = await runCommand('busybox', ['wget', '-q', '-O', '-', `http://127.0.0.1:${port}/token`]);
    return r.code === 0 ? r.stdout.trim() : `(no answer: ${r.stderr.trim()})`;
  };

  beforeAll(async () => {
    node = testNode();
    dir = mkdtempSync(join(tmpdir(), 'skiff-plan-'));
    port = await freePort();
    const imported = await importBusybox(node, mkdtempSync(join(dir, 'img-')), 'x\n', 'localhost/plan:v1');
    expect(imported.code, imported.stderr).toBe(0);
    writeFileSync(join(dir, 'token.txt'), 'first\n');
    writeFileSync(
      join(dir, 'stack.yaml'),
      `services:
  web:
    image: localhost/plan:v1
    command: ["httpd", "-f", "-p", "80", "-h", "/run/secrets"]
    environment:
      GREETING: \${GREETING}
    ports: ["${port}:80"]
    stop_grace_period: 1s
    secrets: [token]
secrets:
  token:
    file: ./token.txt
`,
    );
  });

  afterAll(async () => {
    await node.skiff(['stack', 'rm', 'plan'], { cwd: dir });
    await node.skiff(['compose', '-f', 'dev.yaml', '-p', 'dev', 'down'], { cwd: dir });
    await waitFor(async () => (await node.skiff(['service', 'ls', '-q'])).stdout.trim() === '', {
      what: 'stack removed',
      timeoutMs: 60_000,
    }).catch(() => {});
    await node.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('plans a new stack as creations, changes nothing, and exits 1', async () => {
    const text = await deploy(['--dry-run']);
    expect(text.code, text.stderr).toBe(1);
    expect(text.stdout).toContain('+ service plan_web (image localhost/plan:v1)');
    expect(text.stdout).toContain('+ secret plan_token');
    expect(text.stdout).toContain('+ network plan_default');
    const json = await deploy(['--dry-run', '--format', 'json']);
    expect(json.code, json.stderr).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      stack: 'plan',
      changes: true,
      services: [{ service: 'plan_web', action: 'create' }],
      secrets: [{ name: 'plan_token', action: 'create' }],
    });
    expect((await node.skiff(['service', 'ls', '-q'])).stdout.trim()).toBe('');
    expect(await secretNames()).not.toContain('plan_token');
  });

  it('plans compose up too, without creating anything', async () => {
    const r = await node.skiff(
      ['compose', '-f', 'stack.yaml', '-p', 'dev', 'up', '--dry-run', '--format', 'json'],
      {
        cwd: dir,
        env: { GREETING: 'hello' },
      },
    );
    expect(r.code, r.stderr).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({
      stack: 'dev',
      changes: true,
      services: [{ service: 'dev_web', action: 'create' }],
    });
    expect((await node.skiff(['service', 'ls', '-q'])).stdout.trim()).toBe('');
  });

  it('exits 2 on an error', async () => {
    const r = await node.skiff(['stack', 'deploy', '--dry-run', '-c', 'missing.yaml', 'plan'], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('missing.yaml');
  });

  it('plans no change for the same file once deployed, and shows a changed variable', async () => {
    const first = await deploy(['--wait', '--timeout', '90s']);
    expect(first.code, first.stderr).toBe(0);
    expect(await served()).toBe('first');

    const same = await deploy(['--dry-run']);
    expect(same.code, same.stdout + same.stderr).toBe(0);
    expect(same.stdout).toBe('Stack plan: no changes.\n');

    const changed = await deploy(['--dry-run'], { GREETING: 'bye' });
    expect(changed.code, changed.stderr).toBe(1);
    expect(changed.stdout).toContain('~ service plan_web\n');
    expect(changed.stdout).toContain('~ TaskTemplate.ContainerSpec.Env[GREETING]: "hello" => "bye"');
    const json = JSON.parse((await deploy(['--dry-run', '--format', 'json'], { GREETING: 'bye' })).stdout);
    expect(json.services).toEqual([
      expect.objectContaining({
        service: 'plan_web',
        action: 'update',
        diff: [{ path: 'TaskTemplate.ContainerSpec.Env[GREETING]', from: 'hello', to: 'bye' }],
      }),
    ]);
    // Nothing changed: the service still has the first value.
    const env = await node.skiff([
      'service',
      'inspect',
      '--format',
      '{{json .Spec.TaskTemplate.ContainerSpec.Env}}',
      'plan_web',
    ]);
    expect(JSON.parse(env.stdout)).toEqual(['GREETING=hello']);
  });

  it('rotates a changed secret file: the task rolls and reads the new value, the old version is removed', async () => {
    const before = await node.skiff(['service', 'ps', '-q', 'plan_web']);
    writeFileSync(join(dir, 'token.txt'), 'second\n');
    const plan = await deploy(['--dry-run']);
    expect(plan.code, plan.stderr).toBe(1);
    expect(plan.stdout).toMatch(
      /~ secret plan_token: content changed, new version plan_token-[0-9a-f]{12}\n/,
    );
    expect(plan.stdout).toContain(
      '- secret plan_token (old version of plan_token, removed once no task uses it)',
    );

    const r = await deploy(['--wait', '--timeout', '90s']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/Rotating secret plan_token to plan_token-[0-9a-f]{12}/);
    expect(r.stderr).toContain('Removing secret plan_token (no task uses it any more)');
    await waitFor(async () => (await served()) === 'second', {
      what: 'the new secret served',
      timeoutMs: 30_000,
    });
    const names = await secretNames();
    expect(names.filter((n) => n.startsWith('plan_token'))).toEqual([
      expect.stringMatching(/^plan_token-[0-9a-f]{12}$/),
    ]);
    // The task was replaced (a new task ID), the secret at the same path.
    const after = await node.skiff(['service', 'ps', '-q', 'plan_web']);
    expect(after.stdout.split('\n')).not.toEqual(before.stdout.split('\n'));
    const again = await deploy(['--dry-run']);
    expect(again.code, again.stdout).toBe(0);
  });

  it('rotates a changed secret under compose up too: compose exec reads the new value', async () => {
    writeFileSync(join(dir, 'dev-token.txt'), 'one\n');
    writeFileSync(
      join(dir, 'dev.yaml'),
      `services:
  app:
    image: localhost/plan:v1
    command: ["sleep", "1000"]
    stop_grace_period: 1s
    secrets: [token]
secrets:
  token:
    file: ./dev-token.txt
`,
    );
    const compose = (args: string[]) =>
      node.skiff(['compose', '-f', 'dev.yaml', '-p', 'dev', ...args], { cwd: dir });
    const up1 = await compose(['up', '-d']);
    expect(up1.code, up1.stderr).toBe(0);
    expect((await compose(['exec', '-T', 'app', 'cat', '/run/secrets/token'])).stdout).toBe('one\n');

    writeFileSync(join(dir, 'dev-token.txt'), 'two\n');
    const up2 = await compose(['up', '-d']);
    expect(up2.code, up2.stderr).toBe(0);
    expect(up2.stderr).toContain('Removing secret dev_token (no task uses it any more)');
    expect((await compose(['exec', '-T', 'app', 'cat', '/run/secrets/token'])).stdout).toBe('two\n');
    expect((await secretNames()).filter((n) => n.startsWith('dev_token'))).toEqual([
      expect.stringMatching(/^dev_token-[0-9a-f]{12}$/),
    ]);
  });
});
