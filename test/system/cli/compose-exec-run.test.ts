// `skiff compose exec`, `run` and `pull` against a real node: the command runs in the
// container, its output streams back and its exit code is the CLI's; a one-off container
// gets the service's spec; images come from a registry the test starts.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BuiltImage,
  buildImage,
  pushImage,
  startRegistry,
  type TestRegistry,
} from '../../fixtures/index.js';
import { waitFor } from '../../lab/index.js';
import { type TestNode, testNode } from '../../support/skiff-node/index.js';

const BIN = resolve(import.meta.dirname, '../../../bin/skiff.js');

describe('skiff compose exec, run and pull', () => {
  let node: TestNode;
  let dir: string;
  let registry: TestRegistry;
  let image: BuiltImage;
  let ref: string;

  beforeAll(async () => {
    node = testNode();
    dir = mkdtempSync(join(tmpdir(), 'skiff-exec-'));
    registry = await startRegistry();
    image = await buildImage({ config: { Cmd: ['sleep', '3600'] } });
    await pushImage(image, registry.host, 'tests/exec:1');
    ref = `${registry.host}/tests/exec:1`;
    writeFileSync(
      join(dir, 'compose.yaml'),
      [
        'name: execrun',
        'services:',
        '  app:',
        `    image: ${ref}`,
        '    stop_grace_period: 1s',
        '    environment:',
        '      GREETING: hello',
        '',
      ].join('\n'),
    );
  }, 120_000);

  afterAll(async () => {
    await node?.skiff(['compose', 'down'], { cwd: dir });
    await node?.destroy();
    await image?.remove();
    await registry?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 180_000);

  it('pulls the project images on the node, with plain progress lines off a terminal', async () => {
    const pull = await node.skiff(['compose', 'pull'], { cwd: dir });
    expect(pull.stderr).toContain('app: Pulling');
    expect(pull.stderr).toContain('app: Pulled');
    expect(pull.code).toBe(0);
    const ls = await node.skiff(['image', 'ls']);
    expect(ls.stdout).toContain(`${registry.host}/tests/exec`);
    const quiet = await node.skiff(['compose', 'pull', '-q'], { cwd: dir });
    expect(quiet).toEqual({ code: 0, stdout: '', stderr: '' });
  }, 120_000);

  it('fails a pull of an image that does not exist with one clear line, exit 1', async () => {
    writeFileSync(
      join(dir, 'missing.yaml'),
      `name: execrun\nservices:\n  gone:\n    image: ${registry.host}/tests/missing:1\n`,
    );
    const pull = await node.skiff(['compose', '-f', 'missing.yaml', 'pull'], { cwd: dir });
    expect(pull.code).toBe(1);
    expect(pull.stderr).toMatch(/^error: pulling .*tests\/missing:1: .+$/m);
    expect(pull.stderr).toMatch(/^hint: /m);
  }, 60_000);

  it('runs a command in the service container: output streamed, exit code propagated', async () => {
    const up = await node.skiff(['compose', 'up', '-d'], { cwd: dir });
    expect(up.code, up.stderr).toBe(0);

    const r = await node.skiff(
      ['compose', 'exec', '-T', 'app', 'sh', '-c', 'echo out $GREETING; echo err >&2; exit 3'],
      { cwd: dir },
    );
    expect(r.stdout).toBe('out hello\n');
    expect(r.stderr).toBe('err\n');
    expect(r.code).toBe(3);

    const opts = await node.skiff(
      [
        'compose',
        'exec',
        '-e',
        'EXTRA=x',
        '-w',
        '/tmp',
        '-u',
        'app',
        'app',
        'sh',
        '-c',
        'echo $EXTRA $(pwd) $(id -u)',
      ],
      { cwd: dir },
    );
    expect(opts.stdout).toBe('x /tmp 1000\n');
    expect(opts.code).toBe(0);

    // What the container's main process writes shows in the logs, prefixed as docker does.
    const say = await node.skiff(['compose', 'exec', 'app', 'sh', '-c', 'echo logged line > /proc/1/fd/1'], {
      cwd: dir,
    });
    expect(say.code, say.stderr).toBe(0);
    const logs = await node.skiff(['compose', 'logs'], { cwd: dir });
    expect(logs.stdout).toBe('app-1  | logged line\n');
    const svc = await node.skiff(['service', 'logs', 'execrun_app'], { cwd: dir });
    expect(svc.stdout).toMatch(/^execrun_app\.1\.[a-z0-9]{12}@\S+ {4}\| logged line\n$/);
    const raw = await node.skiff(['service', 'logs', '--raw', 'execrun_app'], { cwd: dir });
    expect(raw.stdout).toBe('logged line\n');
  }, 180_000);

  it('feeds piped stdin to the command', async () => {
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      execFile(
        'sh',
        ['-c', `printf 'a\\nb\\n' | "${process.execPath}" "${BIN}" compose exec -T app wc -l`],
        { cwd: dir, env: node.env, timeout: 60_000 },
        (err, stdout, stderr) => done({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
      );
    });
    expect(r.stdout.trim(), r.stderr).toBe('2');
    expect(r.code).toBe(0);
  }, 60_000);

  it('streams stdin to the command while its output streams back', async () => {
    const cli = spawn(
      process.execPath,
      [BIN, 'compose', 'exec', '-T', 'app', 'sh', '-c', 'while read l; do echo "got $l"; done; echo bye'],
      { cwd: dir, env: node.env, stdio: ['pipe', 'pipe', 'ignore'] },
    );
    let out = '';
    cli.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((done) => cli.on('exit', (code) => done(code)));
    try {
      cli.stdin.write('one\n');
      await waitFor(() => out === 'got one\n', { what: 'the answer to the first line', timeoutMs: 60_000 });
      cli.stdin.write('two\n');
      await waitFor(() => out === 'got one\ngot two\n', { what: 'the answer to the second line' });
      cli.stdin.end();
      expect(await exited).toBe(0);
      expect(out).toBe('got one\ngot two\nbye\n');
    } finally {
      cli.kill('SIGKILL');
    }
  }, 120_000);

  it('streams output while the command runs, and ends it when the CLI is interrupted', async () => {
    const cli = spawn(
      process.execPath,
      [BIN, 'compose', 'exec', '-T', 'app', 'sh', '-c', 'echo started; exec sleep 299'],
      { cwd: dir, env: node.env, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    let out = '';
    cli.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<number | null>((done) => cli.on('exit', (code) => done(code)));
    try {
      // The first line arrives while the command is still running.
      await waitFor(() => out === 'started\n', { what: 'the first line of output', timeoutMs: 60_000 });
      const sleeping = async () =>
        (await node.skiff(['compose', 'exec', '-T', 'app', 'ps'], { cwd: dir })).stdout.includes('sleep 299');
      expect(await sleeping()).toBe(true);
      cli.kill('SIGINT');
      expect(await exited).toBe(130);
      await waitFor(async () => !(await sleeping()), {
        what: 'sleep 299 gone from the container',
        timeoutMs: 30_000,
        intervalMs: 300,
      });
    } finally {
      cli.kill('SIGKILL');
    }
  }, 120_000);

  it('starts a command in the background with -d', async () => {
    const r = await node.skiff(
      ['compose', 'exec', '-d', 'app', 'sh', '-c', 'sleep 1; echo finished > /tmp/detached'],
      { cwd: dir },
    );
    expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
    // It ran on after the CLI had returned and closed its connection.
    await waitFor(
      async () =>
        (await node.skiff(['compose', 'exec', '-T', 'app', 'cat', '/tmp/detached'], { cwd: dir })).stdout ===
        'finished\n',
      { what: 'the detached command to finish', timeoutMs: 30_000, intervalMs: 300 },
    );
  }, 120_000);

  it('refuses an unknown service and a bad index with one line and a hint', async () => {
    const r = await node.skiff(['compose', 'exec', 'nosuch', 'true'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: service "nosuch" is not running in project execrun\nhint: .+\n$/);
    const idx = await node.skiff(['compose', 'exec', '--index', '2', 'app', 'true'], { cwd: dir });
    expect(idx.code).toBe(1);
    expect(idx.stderr).toContain('no running container with index 2');
    const usage = await node.skiff(['compose', 'exec', '--index', 'x', 'app', 'true'], { cwd: dir });
    expect(usage.code).toBe(2);
  }, 60_000);

  it('runs a one-off container of the service with a command and removes it with --rm', async () => {
    const r = await node.skiff(
      ['compose', 'run', '--rm', '-e', 'EXTRA=y', 'app', 'sh', '-c', 'echo $GREETING $EXTRA; exit 4'],
      { cwd: dir },
    );
    expect(r.stdout).toBe('hello y\n');
    expect(r.code).toBe(4);
    const ls = await node.skiff(['service', 'ls', '--format', 'json'], { cwd: dir });
    const names = ls.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { Name: string }).Name);
    expect(names.filter((n) => n.includes('_run_'))).toEqual([]);

    // Without --rm the one-off stays, named as docker names it, until down.
    const kept = await node.skiff(['compose', 'run', 'app', 'true'], { cwd: dir });
    expect(kept.code, kept.stderr).toBe(0);
    const ps = await node.skiff(['compose', 'ps', '-a', '--format', 'json'], { cwd: dir });
    // JSON Lines, docker's container states (docker compose ≥ 2.21).
    const rows = ps.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { Name: string; Service: string; State: string });
    expect(rows.filter((r) => r.Name.startsWith('execrun-app-run-'))).toEqual([
      expect.objectContaining({ Service: 'app', State: 'exited' }),
    ]);

    const ok = await node.skiff(['compose', 'run', '--rm', '--entrypoint', 'echo', 'app', 'done'], {
      cwd: dir,
    });
    expect(ok.stdout).toBe('done\n');
    expect(ok.code).toBe(0);
  }, 180_000);

  it('starts the services a one-off depends on, unless --no-deps', async () => {
    writeFileSync(
      join(dir, 'deps.yaml'),
      [
        // The same project (and so its one network): a node allocates subnets once at start
        // from the host's routes, and other tests' nodes may take new ones meanwhile.
        'name: execrun',
        'services:',
        '  db:',
        `    image: ${ref}`,
        '    stop_grace_period: 1s',
        '  app:',
        `    image: ${ref}`,
        '    depends_on: [db]',
        '',
      ].join('\n'),
    );
    const services = async () =>
      (await node.skiff(['service', 'ls', '--format', '{{.Name}}'], { cwd: dir })).stdout
        .split('\n')
        .filter(Boolean);

    const alone = await node.skiff(
      ['compose', '-f', 'deps.yaml', 'run', '--rm', '--no-deps', 'app', 'true'],
      {
        cwd: dir,
      },
    );
    expect(alone.code, alone.stderr).toBe(0);
    expect(await services()).not.toContain('execrun_db');

    const withDeps = await node.skiff(['compose', '-f', 'deps.yaml', 'run', '--rm', 'app', 'echo', 'ran'], {
      cwd: dir,
    });
    expect(withDeps.stdout).toBe('ran\n');
    expect(withDeps.code, withDeps.stderr).toBe(0);
    expect(await services()).toContain('execrun_db');
  }, 180_000);
});
