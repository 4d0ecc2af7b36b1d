// The real docker CLI (Docker 28 client) against a skiff node, for a standalone
// container's life beyond run/ps/logs: `run -it` and `attach` under a pseudo-terminal,
// `run -i` with piped input, restart, pause/unpause, rename, top, stats, `cp` both
// ways, container prune, and Docker's errors for each.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCommand } from '../../lab/command.js';
import { DOCKER, dockerNode } from '../../support/docker-cli.js';
import { underTerminal } from '../../support/terminal.js';

const IMAGE = 'localhost/dk-ctr:1';

const created: string[] = [];
const d = dockerNode({
  image: IMAGE,
  page: 'ctr\n',
  tmpPrefix: 'skiff-dkctr-',
  cleanup: () => (created.length ? [['rm', '-f', ...created]] : []),
});
const { docker, env, ok } = d;

/** `docker run -d --name NAME IMAGE ...cmd`, removed after the file. */
async function runDetached(name: string, ...cmd: string[]): Promise<string> {
  created.push(name);
  return ok(['run', '-d', '--name', name, IMAGE, ...cmd]);
}

describe('docker CLI, interactive containers', () => {
  it('run -it: typed input reaches the container terminal, sized as the user terminal; the exit code comes back', async () => {
    const r = await underTerminal(
      `stty rows 27 cols 99; ${DOCKER} run -it --rm ${IMAGE} sh`,
      [
        { waitFor: /\/ # /, type: 'stty size; tty; echo $((6*7))\r' },
        { waitFor: /^42\r?$/m, type: 'exit 4\r' },
      ],
      { env: env() },
    );
    expect(r.code, r.output).toBe(4);
    expect(r.output).toContain('stty size; tty; echo $((6*7))');
    expect(r.output).toMatch(/^27 99\r$/m);
    expect(r.output).toMatch(/^\/dev\/pts\/\d+\r$/m);
    expect(await ok(['ps', '-aq', '--filter', 'label=io.skiff.container.standalone'])).toBe('');
  }, 90_000);

  it('a TTY container starts on the terminal size its create asked for (ConsoleSize), before any resize; its logs are raw', async () => {
    // The docker CLI sends the user's size in the create body, then resizes after start;
    // under load that resize can come after the shell read its size, or give up.
    const sock = join(d.node.runDir, 'skiff.sock');
    const api = async (method: string, path: string, body?: unknown) => {
      const r = await runCommand('curl', [
        '-sS',
        '--unix-socket',
        sock,
        '-X',
        method,
        ...(body === undefined ? [] : ['-H', 'content-type: application/json', '-d', JSON.stringify(body)]),
        `http://localhost/v1.44${path}`,
      ]);
      expect(r.code, r.stderr).toBe(0);
      return r.stdout;
    };
    created.push('dk-size');
    const made = await api('POST', '/containers/create?name=dk-size', {
      Image: IMAGE,
      Cmd: ['sh', '-c', 'stty size'],
      Tty: true,
      HostConfig: { ConsoleSize: [27, 99] },
    });
    expect(made).toContain('"Id"');
    expect(await api('POST', '/containers/dk-size/start')).toBe('');
    expect(JSON.parse(await api('POST', '/containers/dk-size/wait'))).toMatchObject({ StatusCode: 0 });
    // A terminal's output is one raw stream, as dockerd sends it (no frame headers).
    expect(await ok(['logs', 'dk-size'])).toBe('27 99');
  }, 60_000);

  it('run -i takes piped input up to its end (StdinOnce)', async () => {
    const lines = Array.from({ length: 2000 }, (_, i) => `line ${i}`).join('\n');
    const r = await docker(['run', '-i', '--rm', IMAGE, 'sh', '-c', 'wc -l; exit 3'], {
      input: `${lines}\n`,
    });
    expect(r.code, r.stderr).toBe(3);
    expect(r.out).toBe('2000');
  }, 60_000);

  it('attach: a second client types into a running TTY container', async () => {
    await ok(['run', '-dit', '--name', 'dk-att', IMAGE, 'sh']);
    created.push('dk-att');
    const r = await underTerminal(
      `${DOCKER} attach dk-att`,
      [
        { waitFor: /^/, type: 'echo attached-$((2+3))\r' },
        { waitFor: /^attached-5\r?$/m, type: 'exit 6\r' },
      ],
      { env: env() },
    );
    expect(r.code, r.output).toBe(6);
    expect(
      await ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}} {{.Config.Tty}}', 'dk-att']),
    ).toBe('exited 6 true');
    const stopped = await docker(['attach', 'dk-att']);
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toContain('You cannot attach to a stopped container');
  }, 90_000);
});

describe('docker CLI, container lifecycle', () => {
  it('restart, start again, pause/unpause, rename', async () => {
    await runDetached('dk-life', 'sh', '-c', 'echo started; exec sleep 600');
    const pid1 = await ok(['inspect', '-f', '{{.State.Pid}}', 'dk-life']);
    expect(await ok(['restart', '-t', '1', 'dk-life'])).toBe('dk-life');
    expect(await ok(['inspect', '-f', '{{.State.Status}}', 'dk-life'])).toBe('running');
    expect(await ok(['inspect', '-f', '{{.State.Pid}}', 'dk-life'])).not.toBe(pid1);
    // The log goes on across runs, as dockerd's.
    await expect
      .poll(async () => ok(['logs', 'dk-life']), { timeout: 20_000, interval: 200 })
      .toBe('started\nstarted');

    expect(await ok(['pause', 'dk-life'])).toBe('dk-life');
    expect(await ok(['inspect', '-f', '{{.State.Status}} {{.State.Paused}}', 'dk-life'])).toBe('paused true');
    expect(await ok(['ps', '--filter', 'name=dk-life', '--format', '{{.Status}}'])).toMatch(/\(Paused\)$/);
    const again = await docker(['pause', 'dk-life']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('is already paused');
    expect(await ok(['unpause', 'dk-life'])).toBe('dk-life');
    expect(await ok(['exec', 'dk-life', 'echo', 'thawed'])).toBe('thawed');
    const notPaused = await docker(['unpause', 'dk-life']);
    expect(notPaused.code).toBe(1);
    expect(notPaused.stderr).toContain('is not paused');

    expect(await ok(['stop', '-t', '1', 'dk-life'])).toBe('dk-life');
    expect(await ok(['start', 'dk-life'])).toBe('dk-life');
    expect(await ok(['inspect', '-f', '{{.State.Status}}', 'dk-life'])).toBe('running');

    await ok(['rename', 'dk-life', 'dk-life2']);
    created.push('dk-life2');
    expect(await ok(['inspect', '-f', '{{.Name}}', 'dk-life2'])).toBe('/dk-life2');
    expect(await ok(['ps', '--filter', 'name=dk-life2', '--format', '{{.Names}}'])).toBe('dk-life2');
    const gone = await docker(['container', 'inspect', 'dk-life']);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('No such container: dk-life');
    await runDetached('dk-other', 'sleep', '600');
    const clash = await docker(['rename', 'dk-life2', 'dk-other']);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toContain('is already in use');
  }, 120_000);

  it('answers 404 and 409 as dockerd for a missing or stopped container', async () => {
    for (const args of [
      ['restart', 'nope'],
      ['pause', 'nope'],
      ['rename', 'nope', 'x'],
      ['top', 'nope'],
    ]) {
      const r = await docker(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toContain('No such container: nope');
    }
    await ok(['create', '--name', 'dk-created', IMAGE, 'true']);
    created.push('dk-created');
    const pause = await docker(['pause', 'dk-created']);
    expect(pause.code).toBe(1);
    expect(pause.stderr).toContain('is not running');
  }, 60_000);

  it('container prune removes the stopped standalone containers only', async () => {
    await runDetached('dk-keep', 'sleep', '600');
    await ok(['run', '--name', 'dk-done', IMAGE, 'true']);
    created.push('dk-done');
    const out = await ok(['container', 'prune', '-f']);
    const doneGone = await docker(['inspect', 'dk-done']);
    expect(doneGone.code).toBe(1);
    expect(out).toMatch(/Deleted Containers:/);
    expect(await ok(['inspect', '-f', '{{.State.Status}}', 'dk-keep'])).toBe('running');
  }, 60_000);
});

describe('docker CLI, looking into a container', () => {
  it('top lists the container’s processes; stats reads its cgroup', async () => {
    await runDetached('dk-look', 'sh', '-c', 'head -c 20000000 /dev/zero > /dev/shm/fill; exec sleep 600');
    const top = await ok(['top', 'dk-look']);
    expect(top.split('\n')[0]).toMatch(/^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/);
    expect(top).toMatch(/sleep 600$/m);
    // Only the container's processes: not the test runner's.
    expect(top).not.toMatch(/vitest/);
    const aux = await ok(['top', 'dk-look', 'aux']);
    expect(aux.split('\n')[0]).toMatch(/^USER\s+PID\s+%CPU/);

    const fmt = '{{.Name}} {{.MemUsage}} {{.CPUPerc}}';
    await expect
      .poll(async () => ok(['stats', '--no-stream', '--format', fmt, 'dk-look']), {
        timeout: 20_000,
        interval: 500,
      })
      .toMatch(/^dk-look \d+(\.\d+)?[KMG]iB \/ \d+(\.\d+)?[KMG]iB \d+\.\d+%$/);
    const mem = await ok(['stats', '--no-stream', '--format', '{{.MemUsage}}', 'dk-look']);
    // The 20 MB in /dev/shm count against the container's memory cgroup.
    expect(Number(/^([\d.]+)MiB/.exec(mem)?.[1] ?? 0)).toBeGreaterThan(15);
    // Streamed: the CLI redraws each second until it is stopped; two frames arrive meanwhile.
    const streamed = await docker(['stats', '--format', '{{.Name}}', 'dk-look'], { timeoutMs: 8_000 }).catch(
      (e: unknown) => ({ out: String(e) }),
    );
    expect(streamed.out.match(/dk-look/g)?.length ?? 0).toBeGreaterThanOrEqual(2);
  }, 90_000);

  it('cp copies files out of and into a container, both ways, and stays inside it', async () => {
    await runDetached(
      'dk-cp',
      'sh',
      '-c',
      'mkdir -p /data/sub && echo inside > /data/sub/a.txt && ln -s / /data/escape && ln -s /data/sub /data/link && exec sleep 600',
    );
    await expect
      .poll(async () => (await docker(['exec', 'dk-cp', 'cat', '/data/sub/a.txt'])).out, { timeout: 20_000 })
      .toBe('inside');
    const out = join(d.dir, 'cp-out');
    mkdirSync(out);
    await ok(['cp', 'dk-cp:/data/sub/a.txt', join(out, 'a.txt')]);
    expect(readFileSync(join(out, 'a.txt'), 'utf8')).toBe('inside\n');
    await ok(['cp', 'dk-cp:/data', join(out, 'data')]);
    expect(readFileSync(join(out, 'data', 'sub', 'a.txt'), 'utf8')).toBe('inside\n');
    // Through a link inside the container: its `/` is the container's, never the host's.
    await ok(['cp', 'dk-cp:/data/link/a.txt', join(out, 'b.txt')]);
    expect(readFileSync(join(out, 'b.txt'), 'utf8')).toBe('inside\n');
    await ok(['cp', 'dk-cp:/data/escape/etc/hostname', join(out, 'hostname')]);
    expect(readFileSync(join(out, 'hostname'), 'utf8').trim()).toBe(
      await ok(['exec', 'dk-cp', 'cat', '/etc/hostname']),
    );

    const src = join(d.dir, 'cp-in');
    mkdirSync(join(src, 'tree'), { recursive: true });
    writeFileSync(join(src, 'tree', 'x.txt'), 'from host\n');
    writeFileSync(join(src, 'one.txt'), 'one\n');
    await ok(['cp', join(src, 'one.txt'), 'dk-cp:/data/one.txt']);
    await ok(['cp', join(src, 'tree'), 'dk-cp:/data/']);
    expect(await ok(['exec', 'dk-cp', 'cat', '/data/one.txt', '/data/tree/x.txt'])).toBe('one\nfrom host');
    // Into the container's /tmp through its `/` link: lands in the container, not on the host.
    await ok(['cp', join(src, 'one.txt'), 'dk-cp:/data/escape/tmp/one.txt']);
    expect(await ok(['exec', 'dk-cp', 'cat', '/tmp/one.txt'])).toBe('one');

    const missing = await docker(['cp', 'dk-cp:/no/such', join(out, 'x')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('Could not find the file /no/such in container dk-cp');
    const noCtr = await docker(['cp', 'nope:/etc/hostname', join(out, 'x')]);
    expect(noCtr.code).toBe(1);
    expect(noCtr.stderr).toContain('No such container');
  }, 90_000);
});
