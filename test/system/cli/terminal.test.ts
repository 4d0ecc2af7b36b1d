// On a terminal (a pseudo-terminal from util-linux `script`): rollout progress is one
// line per service redrawn in place, and `compose exec` gives the command a TTY. Off a
// terminal: plain lines without escape codes, and no TTY.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand, waitFor } from '../../lab/index.js';
import { importBusybox, type TestNode, testNode } from '../../support/skiff-node/index.js';

const BIN = resolve(import.meta.dirname, '../../../bin/skiff.js');

describe('skiff on a terminal', () => {
  let node: TestNode;
  let dir: string;

  /** Runs skiff under a pseudo-terminal; stdout and stderr both arrive on it. */
  const onTerminal = (args: string[]) =>
    new Promise<{ code: number; output: string }>((done) => {
      const command = [process.execPath, BIN, ...args]
        .map((a) => `'${a.replaceAll("'", "'\\''")}'`)
        .join(' ');
      execFile(
        'script',
        ['-qefc', command, '/dev/null'],
        { cwd: dir, env: node.env, timeout: 120_000 },
        (err, stdout) => done({ code: err ? Number(err.code ?? 1) : 0, output: stdout }),
      );
    });

  beforeAll(async () => {
    node = testNode();
    dir = mkdtempSync(join(tmpdir(), 'skiff-tty-'));
    const imp = await importBusybox(node, dir, 'tty\n', 'localhost/tty-busybox:1');
    expect(imp.code, imp.stderr).toBe(0);
    writeFileSync(
      join(dir, 'compose.yaml'),
      [
        'name: tty',
        'services:',
        '  app:',
        '    image: localhost/tty-busybox:1',
        '    command: ["sleep", "3600"]',
        '    stop_grace_period: 1s',
        '',
      ].join('\n'),
    );
  }, 120_000);

  afterAll(async () => {
    await node?.skiff(['compose', 'down'], { cwd: dir });
    await node?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }, 180_000);

  it('redraws one progress line per service in place, ending with its outcome', async () => {
    const up = await onTerminal(['compose', 'up', '-d']);
    expect(up.code, up.output).toBe(0);
    expect(up.output).toMatch(/\x1b\[2Ktty_app {2}starting \(0\/1 running\)/);
    expect(up.output).toMatch(/\x1b\[1A\x1b\[2Ktty_app {2}converged \(1\/1 running\)/);
    // The outcome is on the live line, not printed again below it.
    expect(up.output.match(/converged \(1\/1 running\)/g)).toHaveLength(1);

    const plain = await node.skiff(['compose', 'restart'], { cwd: dir });
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).toContain('tty_app: converged (1/1 running)\n');
    expect(plain.stderr).not.toContain('\x1b');
  }, 180_000);

  it('gives exec a TTY on a terminal and none otherwise', async () => {
    const tty = await onTerminal(['compose', 'exec', 'app', 'sh', '-c', 'test -t 1 && echo has-a-tty']);
    expect(tty.output).toContain('has-a-tty');
    expect(tty.code).toBe(0);
    const notty = await onTerminal(['compose', 'exec', '-T', 'app', 'sh', '-c', 'test -t 1 || echo no-tty']);
    expect(notty.output).toContain('no-tty');
    const piped = await node.skiff(['compose', 'exec', 'app', 'sh', '-c', 'test -t 1 || echo no-tty'], {
      cwd: dir,
    });
    expect(piped.stdout).toBe('no-tty\n');
  }, 120_000);

  it('streams a TTY exec’s output while it runs and ends it when the CLI is interrupted', async () => {
    const term = spawn(
      'script',
      [
        '-qefc',
        `'${process.execPath}' '${BIN}' compose exec app sh -c 'echo started; exec sleep 298'`,
        '/dev/null',
      ],
      {
        cwd: dir,
        env: node.env,
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    let out = '';
    term.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<void>((done) => term.on('exit', () => done()));
    const sleeping = async () =>
      (await node.skiff(['compose', 'exec', '-T', 'app', 'ps'], { cwd: dir })).stdout.includes('sleep 298');
    try {
      await waitFor(() => out.includes('started'), {
        what: 'the first line on the terminal',
        timeoutMs: 60_000,
      });
      expect(await sleeping()).toBe(true);
      // Ctrl-C reaches the CLI (the terminal's foreground process), not the container.
      const cli = await waitFor(
        async () =>
          (await runCommand('pgrep', ['-f', `^${process.execPath} ${BIN} compose exec app`])).stdout.trim(),
        { what: 'the CLI process' },
      );
      for (const pid of cli.split('\n')) process.kill(Number(pid), 'SIGINT');
      await exited;
      await waitFor(async () => !(await sleeping()), {
        what: 'sleep 298 gone',
        timeoutMs: 30_000,
        intervalMs: 300,
      });
    } finally {
      term.kill('SIGKILL');
    }
  }, 120_000);
});
