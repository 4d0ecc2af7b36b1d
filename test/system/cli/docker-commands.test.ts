// docker's list commands and their flags on a real node: `node ps`, `service ps
// --filter/--no-trunc`, `network prune` with its filters, `image ls --filter`; and
// docker compose's ls, images, port, scale, create, rm, wait, events, version.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, waitFor } from '../../lab/index.js';
import { importBusybox, type TestNode, testNode } from '../../support/skiff-node/index.js';

const IMAGE = 'localhost/cmds-busybox:1';

describe('docker list commands and prune', () => {
  let node: TestNode;
  let dir: string;

  const ok = async (args: string[]): Promise<string> => {
    const r = await node.skiff(args);
    expect(r.code, `skiff ${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r.stdout;
  };

  beforeAll(async () => {
    node = testNode();
    dir = mkdtempSync(join(tmpdir(), 'skiff-cmds-'));
    const imp = await importBusybox(node, dir, 'cmds\n', IMAGE);
    expect(imp.code, imp.stderr).toBe(0);
    await ok(['service', 'create', '--name', 'ps-web', '--replicas', '2', IMAGE, 'sleep', '3600']);
  }, 180_000);

  afterAll(async () => {
    await node?.skiff(['service', 'rm', 'ps-web']);
    await node?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it('node ps lists the tasks on this node, filtered and untruncated on request', async () => {
    const rows = (await ok(['node', 'ps', '--format', '{{.Name}} {{.DesiredState}}'])).trim().split('\n');
    expect(rows.sort()).toEqual(['ps-web.1 Running', 'ps-web.2 Running']);
    const self = (await ok(['node', 'inspect', 'self', '--format', '{{.ID}}'])).trim();
    const byId = await ok(['node', 'ps', '-q', self]);
    expect(byId.trim().split('\n')).toHaveLength(2);
    const ids = (await ok(['node', 'ps', '--no-trunc', '--format', '{{.ID}}'])).trim().split('\n');
    expect(ids.every((id) => id.length === 25)).toBe(true);
    const short = (await ok(['node', 'ps', '--format', '{{.ID}}'])).trim().split('\n');
    expect(short.every((id) => id.length === 12)).toBe(true);
    const table = await ok(['node', 'ps', '--no-resolve']);
    expect(table.split('\n')[0]).toMatch(/^ID\s+NAME\s+IMAGE\s+NODE\s+DESIRED STATE\s+CURRENT STATE\s+ERROR/);
    expect(table).toContain(self);
    const missing = await node.skiff(['node', 'ps', 'no-such-node']);
    expect(missing.code).toBe(1);
  });

  it('service ps and stack ps take docker filters', async () => {
    const one = await ok(['service', 'ps', '--filter', 'name=ps-web.2', '--format', '{{.Name}}', 'ps-web']);
    expect(one).toBe('ps-web.2\n');
    const none = await ok(['service', 'ps', '-f', 'desired-state=shutdown', '-q', 'ps-web']);
    expect(none).toBe('');
    const bad = await node.skiff(['service', 'ps', '-f', 'colour=red', 'ps-web']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("invalid filter 'colour'");
  });

  it('network prune removes unused networks matching its filters, and keeps the rest', async () => {
    await ok(['network', 'create', '--label', 'keep=yes', 'prune-keep']);
    await ok(['network', 'create', '--label', 'keep=no', 'prune-drop']);
    await ok(['network', 'create', 'prune-used']);
    await ok([
      'service',
      'create',
      '--name',
      'net-user',
      '--replicas',
      '0',
      '--network',
      'prune-used',
      IMAGE,
    ]);
    try {
      const pruned = await ok(['network', 'prune', '-f', '--filter', 'label=keep=no']);
      expect(pruned).toBe('Deleted Networks:\nprune-drop\n');
      const until = await ok(['network', 'prune', '--force', '--filter', 'until=1h']);
      expect(until).toBe('');
      const rest = await ok(['network', 'prune', '-f']);
      expect(rest).toBe('Deleted Networks:\nprune-keep\n');
      const names = await ok(['network', 'ls', '--format', '{{.Name}}']);
      expect(names).toContain('prune-used\n');
      expect(names).not.toContain('prune-keep');
    } finally {
      await node.skiff(['service', 'rm', 'net-user']);
      await waitFor(async () => (await node.skiff(['network', 'rm', 'prune-used'])).code === 0, {
        what: 'prune-used to be removable',
        timeoutMs: 30_000,
      });
    }
  });

  it('image ls filters by reference and dangling, and refuses what it cannot filter by', async () => {
    expect(await ok(['image', 'ls', '-f', 'reference=localhost/cmds-*', '--format', '{{.Repository}}'])).toBe(
      'localhost/cmds-busybox\n',
    );
    expect(await ok(['image', 'ls', '-f', 'reference=nothing-like-it', '-q'])).toBe('');
    expect(await ok(['image', 'ls', '-f', 'dangling=true', '-q'])).toBe('');
    const full = (
      await ok(['image', 'ls', '--no-trunc', '-q', '-f', 'reference=localhost/cmds-busybox'])
    ).trim();
    expect(full).toMatch(/^sha256:[0-9a-f]{64}$/);
    const bad = await node.skiff(['image', 'ls', '-f', 'before=x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('unsupported filter "before"');
  });

  it('compose create, start, ls, ps, images, port, scale, events, rm, wait and version', async () => {
    const project = join(dir, 'proj');
    const port = await freePort();
    mkdirSync(project, { recursive: true });
    writeFileSync(
      join(project, 'compose.yaml'),
      [
        'name: cmdsproj',
        'services:',
        '  web:',
        `    image: ${IMAGE}`,
        '    command: ["sleep", "3600"]',
        `    ports: ["${port}:80"]`,
        '  job:',
        `    image: ${IMAGE}`,
        '    command: ["sh", "-c", "sleep 4; exit 3"]',
        '    restart: "no"',
        '',
      ].join('\n'),
    );
    const compose = (args: string[]) => node.skiff(['compose', ...args], { cwd: project });
    const okc = async (args: string[]) => {
      const r = await compose(args);
      expect(r.code, `compose ${args.join(' ')}: ${r.stderr}`).toBe(0);
      return r.stdout;
    };
    try {
      // create: the services exist, no container runs; ls shows the project with -a only.
      await okc(['create']);
      expect(await okc(['ps', '-q'])).toBe('');
      expect(await okc(['ls', '-q'])).not.toContain('cmdsproj');
      expect(await okc(['ls', '-a', '-q'])).toContain('cmdsproj\n');

      await okc(['start', 'web']);
      expect(JSON.parse(await okc(['ls', '--format', 'json', '--filter', 'name=cmdsproj']))).toEqual([
        { Name: 'cmdsproj', Status: 'running(1)', ConfigFiles: '' },
      ]);
      expect(await okc(['ps', '--format', '{{.Name}} {{.Service}} {{.State}}'])).toBe(
        'cmdsproj-web-1 web running\n',
      );
      expect(await okc(['ps', '--status', 'exited', '-q'])).toBe('');
      const images = JSON.parse(await okc(['images', '--format', 'json'])) as Record<string, unknown>[];
      expect(images).toEqual([
        expect.objectContaining({
          ContainerName: 'cmdsproj-web-1',
          Repository: 'localhost/cmds-busybox',
          Tag: '1',
        }),
      ]);
      // As docker compose: the ID without its `sha256:` prefix.
      expect((await okc(['images', '-q'])).trim()).toMatch(/^[0-9a-f]{64}$/);
      expect(await okc(['port', 'web', '80'])).toBe(`0.0.0.0:${port}\n`);
      const noPort = await compose(['port', 'web', '81']);
      expect(noPort.code).toBe(1);

      // events: the containers' lifecycle as JSON lines, while web is scaled up.
      const events = spawn(
        process.execPath,
        [join(import.meta.dirname, '../../../bin/skiff.js'), 'compose', 'events', '--json'],
        {
          cwd: project,
          env: node.env,
        },
      );
      let out = '';
      events.stdout.on('data', (d: Buffer) => {
        out += d.toString();
      });
      try {
        let n = 1;
        await waitFor(
          async () => {
            await okc(['scale', `web=${++n}`]);
            return out
              .split('\n')
              .some((l) => l.includes('"action":"start"') && l.includes('"service":"web"'));
          },
          { what: 'a start event of web', timeoutMs: 90_000, intervalMs: 500 },
        );
        const line = JSON.parse(out.split('\n').find((l) => l.includes('"action":"start"')) ?? '{}');
        expect(line).toMatchObject({ type: 'container', action: 'start', service: 'web' });
      } finally {
        events.kill();
      }
      expect((await okc(['ps', '-q'])).trim().split('\n').length).toBeGreaterThanOrEqual(2);

      // rm removes stopped services only; -s stops them first.
      expect((await compose(['rm', '-f', 'web'])).stderr).toContain('No stopped containers');
      await okc(['stop', 'web']);
      await okc(['rm', '-f', 'web']);
      expect(await okc(['ps', '-a', '-q', 'web'])).toBe('');

      // wait: the job's exit code is printed and is the exit code.
      await compose(['start', 'job']); // its rollout may see it exit already: the outcome is wait's
      const waited = await compose(['wait', 'job']);
      expect(waited).toMatchObject({ code: 3, stdout: '3\n' });

      expect(await okc(['version', '--short'])).toMatch(/^\d+\.\d+\.\d+/);
      // The job has exited: nothing runs that a signal could reach, and kill says so.
      const kill = await compose(['kill', 'job']);
      expect(kill.code).toBe(1);
      expect(kill.stderr).toContain('no running container for job in project cmdsproj');
    } finally {
      await compose(['down']);
    }
  }, 300_000);
});
