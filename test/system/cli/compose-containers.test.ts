// `skiff compose kill`, `pause`, `unpause`, `top` and `cp` on a real single node: the
// services' containers are the tasks' own, reached through the node's container
// endpoints; what a container sees is read back with `compose exec`.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Task } from '../../../lib/index.js';
import { waitFor } from '../../lab/index.js';
import { importBusybox, type TestNode, testNode } from '../../support/skiff-node/index.js';

const IMAGE = 'localhost/ctr-busybox:1';

describe('skiff compose kill, pause, unpause, top and cp', () => {
  let node: TestNode;
  let dir: string;
  const compose = (args: string[]) => node.skiff(['compose', ...args], { cwd: dir });
  const exec = async (svc: string, script: string) => {
    const r = await compose(['exec', '-T', svc, 'sh', '-c', script]);
    expect(r.code, r.stderr).toBe(0);
    return r.stdout;
  };
  const tasks = async (svc: string): Promise<Task[]> => {
    const filters = encodeURIComponent(JSON.stringify({ service: [`ctr_${svc}`] }));
    return JSON.parse(await get(node, `/tasks?filters=${filters}`)) as Task[];
  };

  beforeAll(async () => {
    node = testNode();
    dir = mkdtempSync(join(tmpdir(), 'skiff-ctr-'));
    const imp = await importBusybox(node, dir, 'page\n', IMAGE);
    expect(imp.code, imp.stderr).toBe(0);
    writeFileSync(
      join(dir, 'compose.yaml'),
      [
        'name: ctr',
        'services:',
        // sh is the container's first process: it takes USR1 only because it traps it.
        '  app:',
        `    image: ${IMAGE}`,
        '    command: ["sh", "-c", "trap \'echo usr1 >> /tmp/signals\' USR1; while true; do sleep 0.2; done"]',
        '    stop_grace_period: 1s',
        '  once:',
        `    image: ${IMAGE}`,
        '    command: ["sleep", "3600"]',
        '    restart: "no"',
        '    stop_grace_period: 1s',
        '',
      ].join('\n'),
    );
    const up = await compose(['up', '-d']);
    expect(up.code, up.stderr).toBe(0);
  }, 240_000);

  afterAll(async () => {
    if (node) {
      await compose(['down']);
      await node.destroy();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 180_000);

  it('-q prints IDs as the docker CLI does; compose ps --format json is JSON Lines', async () => {
    const q = async (args: string[]) => {
      const r = await node.skiff(args, { cwd: dir });
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.trim().split('\n');
    };
    const [app] = (await tasks('app')).filter((t) => t.Status.State === 'running');
    const taskIds = (await tasks('app')).map((t) => t.ID);
    expect(app?.ID).toMatch(/^[a-z0-9]{25}$/);
    // Whole task IDs: service ps -q, compose ps -q; cut to 12: stack ps -q, node ps -q.
    expect(await q(['service', 'ps', '-q', 'ctr_app'])).toEqual(expect.arrayContaining([app?.ID]));
    expect(await q(['compose', 'ps', '-q', 'app'])).toEqual([app?.ID]);
    expect(await q(['stack', 'ps', '-q', 'ctr'])).toContain(app?.ID.slice(0, 12));
    expect(await q(['stack', 'ps', '-q', '--no-trunc', 'ctr'])).toContain(app?.ID);
    expect((await q(['node', 'ps', '-q'])).every((id) => id.length === 12)).toBe(true);
    expect(await q(['node', 'ps', '-q', '--no-trunc'])).toEqual(expect.arrayContaining(taskIds));
    // Service IDs: always 12 in service ls and stack services; node IDs whole.
    for (const ids of [await q(['service', 'ls', '-q']), await q(['stack', 'services', '-q', 'ctr'])])
      expect(ids.map((id) => id.length)).toEqual([12, 12]);
    expect((await q(['node', 'ls', '-q']))[0]).toMatch(/^[a-z0-9]{25}$/);
    // The image's whole ID without its algorithm (docker compose images -q).
    expect(await q(['compose', 'images', '-q'])).toEqual([expect.stringMatching(/^[0-9a-f]{64}$/)]);
    const lines = await q(['compose', 'ps', '--format', 'json']);
    expect(lines.map((l) => JSON.parse(l) as { Name: string; State: string; Project: string })).toEqual([
      expect.objectContaining({ Name: 'ctr-app-1', State: 'running', Project: 'ctr' }),
      expect.objectContaining({ Name: 'ctr-once-1', State: 'running', Project: 'ctr' }),
    ]);
  }, 60_000);

  it('sends a signal to the running containers: USR1 reaches the trap, the container runs on', async () => {
    const r = await compose(['kill', '-s', 'USR1', 'app']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('Container ctr-app-1  Killed');
    await waitFor(async () => (await exec('app', 'cat /tmp/signals 2>/dev/null || true')).includes('usr1'), {
      what: 'the trap ran',
      timeoutMs: 10_000,
      intervalMs: 200,
    });
    expect((await tasks('app')).filter((t) => t.Status.State === 'running')).toHaveLength(1);
  }, 60_000);

  it('kills with SIGKILL by default; restart: "no" leaves it exited with 137', async () => {
    const before = (await tasks('once')).find((t) => t.Status.State === 'running');
    expect(before).toBeDefined();
    const r = await compose(['kill', 'once']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor(
      async () =>
        (await tasks('once')).find((t) => t.ID === before?.ID)?.Status.ContainerStatus?.ExitCode === 137,
      { what: 'the task failed with 137', timeoutMs: 30_000, intervalMs: 250 },
    );
    const ps = await compose(['ps', '-a', 'once']);
    expect(ps.stdout).toMatch(/ctr-once-1 .*Exited \(137\)/);
    // Nothing left to signal: said, not ignored.
    const again = await compose(['kill', 'once']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('no running container for once in project ctr');
  }, 60_000);

  it('pauses and unpauses: a paused container is frozen (docker inspect says so), then runs on', async () => {
    const [task] = (await tasks('app')).filter((t) => t.Status.State === 'running');
    expect(task).toBeDefined();
    const paused = await compose(['pause', 'app']);
    expect(paused.code, paused.stderr).toBe(0);
    expect(paused.stderr).toContain('Container ctr-app-1  Paused');
    const state = await containerState(node, task?.ID ?? '');
    expect(state).toEqual({ Status: 'paused', Paused: true });
    const twice = await compose(['pause', 'app']);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toMatch(/already paused/);
    const resumed = await compose(['unpause', 'app']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain('Container ctr-app-1  Unpaused');
    expect(await containerState(node, task?.ID ?? '')).toEqual({ Status: 'running', Paused: false });
    expect(await exec('app', 'echo alive')).toBe('alive\n');
  }, 60_000);

  it('shows the processes of each container under its name, as host ps rows', async () => {
    const r = await compose(['top', 'app']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('ctr-app-1');
    expect(lines[1]).toMatch(/^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/);
    expect(r.stdout).toMatch(/sh -c trap/);
    expect(r.stdout.endsWith('\n\n')).toBe(true);
  }, 30_000);

  it('copies a file and a directory into the container and back out', async () => {
    const local = join(dir, 'local');
    mkdirSync(join(local, 'tree', 'sub'), { recursive: true });
    writeFileSync(join(local, 'note.txt'), 'hello container\n');
    writeFileSync(join(local, 'tree', 'sub', 'deep.txt'), 'deep\n');
    // Onto a path that does not exist: the file takes that name.
    let r = await compose(['cp', join(local, 'note.txt'), 'app:/tmp/renamed.txt']);
    expect(r.code, r.stderr).toBe(0);
    expect(await exec('app', 'cat /tmp/renamed.txt')).toBe('hello container\n');
    // Into an existing directory: under its own name.
    r = await compose(['cp', join(local, 'tree'), 'app:/tmp']);
    expect(r.code, r.stderr).toBe(0);
    expect(await exec('app', 'cat /tmp/tree/sub/deep.txt')).toBe('deep\n');
    // Back out: a directory into a new local path, a file into an existing directory.
    const back = join(dir, 'back');
    r = await compose(['cp', 'app:/tmp/tree', back]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(back, 'sub', 'deep.txt'), 'utf8')).toBe('deep\n');
    r = await compose(['cp', 'app:/tmp/renamed.txt', back]);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(join(back, 'renamed.txt'), 'utf8')).toBe('hello container\n');
    // A path that is not there is an error, not an empty copy.
    r = await compose(['cp', 'app:/tmp/nothing-here', join(dir, 'x')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no such file or directory in ctr-app-1: /tmp/nothing-here');
    r = await compose(['cp', 'app:/a', 'once:/b']);
    expect(r.code).not.toBe(0);
  }, 60_000);
});

/** The container's state as the node's Engine API shows it (docker inspect). */
async function containerState(node: TestNode, id: string): Promise<{ Status: string; Paused: boolean }> {
  const state = (
    JSON.parse(await get(node, `/containers/${id}/json`)) as { State: { Status: string; Paused: boolean } }
  ).State;
  return { Status: state.Status, Paused: state.Paused };
}

function get(node: TestNode, path: string): Promise<string> {
  return new Promise<string>((done, fail) => {
    const req = request({ socketPath: join(node.runDir, 'skiff.sock'), method: 'GET', path }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
      });
      res.on('end', () =>
        res.statusCode === 200 ? done(text) : fail(new Error(`GET ${path}: ${res.statusCode} ${text}`)),
      );
    });
    req.on('error', fail);
    req.end();
  });
}
