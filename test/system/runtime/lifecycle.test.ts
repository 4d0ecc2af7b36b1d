// Containers under crun + conmon: what runs (Docker's merge rules), exit codes, logs,
// exec, stop with a grace period, and that delete leaves nothing behind.
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../lab/index.js';
import { conmonsMentioning, createHarness, type Harness, lines, mountsUnder } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.cleanup();
});

describe('what a container runs', () => {
  it('runs the image entrypoint with the image cmd, and Args replace the cmd', async () => {
    const imageConfig = { Entrypoint: ['echo', 'ep'], Cmd: ['image-cmd'] };
    const a = await h.run({}, { imageConfig });
    expect(lines(a.logs)).toEqual(['ep image-cmd']);
    const b = await h.run({ Args: ['spec-args'] }, { imageConfig });
    expect(lines(b.logs)).toEqual(['ep spec-args']);
  });

  it('Command replaces the entrypoint and drops the image cmd', async () => {
    const imageConfig = { Entrypoint: ['echo', 'ep'], Cmd: ['image-cmd'] };
    const a = await h.run({ Command: ['echo', 'cmd'] }, { imageConfig });
    expect(lines(a.logs)).toEqual(['cmd']);
    const b = await h.run({ Command: ['echo', 'cmd'], Args: ['x'] }, { imageConfig });
    expect(lines(b.logs)).toEqual(['cmd x']);
  });

  it('refuses a container with nothing to run and leaves nothing behind', async () => {
    await expect(h.create({}, { id: 'nothing-to-run' })).rejects.toThrow(/no command to run/);
    expect(existsSync(join(h.root, 'nothing-to-run'))).toBe(false);
    expect(existsSync(join(h.runRoot, 'nothing-to-run'))).toBe(false);
  });

  it('merges env: spec over image by key, PATH and HOSTNAME defaulted', async () => {
    const { logs } = await h.run(
      {
        Command: ['sh', '-c', 'echo "$A|$B|$C|$PATH|$HOSTNAME"'],
        Env: ['B=spec', 'C=c=d'],
        Hostname: 'web-1',
      },
      { imageConfig: { Env: ['A=image', 'B=image'] } },
    );
    expect(lines(logs)).toEqual([
      'image|spec|c=d|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin|web-1',
    ]);
  });

  it('resolves User by name, uid:gid and name:group through the image files', async () => {
    const id = async (User: string): Promise<string> =>
      lines((await h.run({ Command: ['id'], User })).logs)[0] ?? '';
    expect(await id('app')).toBe('uid=1000(app) gid=1000(app)');
    expect(await id('1000:65534')).toBe('uid=1000(app) gid=65534(nogroup)');
    expect(await id('nobody:app')).toBe('uid=65534(nobody) gid=1000(app)');
    expect(await id('4242')).toBe('uid=4242 gid=0(root)');
    await expect(h.create({ Command: ['id'], User: 'ghost' })).rejects.toThrow(
      /'ghost' is not in the image's \/etc\/passwd/,
    );
  });

  it('creates the working directory and starts there; spec Dir wins over the image', async () => {
    const a = await h.run({ Command: ['pwd'] }, { imageConfig: { WorkingDir: '/srv/app' } });
    expect(lines(a.logs)).toEqual(['/srv/app']);
    const b = await h.run(
      { Command: ['pwd'], Dir: '/work/deep/er' },
      { imageConfig: { WorkingDir: '/srv/app' } },
    );
    expect(lines(b.logs)).toEqual(['/work/deep/er']);
  });

  it('writes /etc/hosts, /etc/hostname and /etc/resolv.conf from the agent', async () => {
    const { logs } = await h.run({
      Command: ['sh', '-c', 'cat /etc/hostname; grep -c db.internal /etc/hosts; cat /etc/resolv.conf'],
      Hostname: 'box',
      Hosts: ['10.1.2.3 db.internal'],
      DNSConfig: { Nameservers: ['10.0.0.2'], Search: ['example.test'] },
    });
    expect(lines(logs)).toEqual(['box', '1', 'nameserver 10.0.0.2', 'search example.test']);
  });
});

describe('lifecycle', () => {
  it('reports exit codes and keeps stdout and stderr in order with timestamps', async () => {
    const before = new Date(Date.now() - 1000);
    const { info, logs } = await h.run({
      // Two pipes have no order between them; a pause between writes gives them one.
      Command: [
        'sh',
        '-c',
        'echo one; sleep 0.2; echo two >&2; sleep 0.2; echo three; sleep 0.2; echo four >&2; exit 3',
      ],
    });
    expect(info.state).toBe('exited');
    expect(info.exitCode).toBe(3);
    expect(info.oomKilled).toBe(false);
    expect(logs.map((e) => `${e.stream}:${e.line}`)).toEqual([
      'stdout:one',
      'stderr:two',
      'stdout:three',
      'stderr:four',
    ]);
    for (let i = 0; i < logs.length; i++) {
      expect(logs[i]!.time.getTime()).toBeGreaterThanOrEqual(before.getTime());
      if (i > 0) expect(logs[i]!.time.getTime()).toBeGreaterThanOrEqual(logs[i - 1]!.time.getTime());
    }
    const tail: string[] = [];
    for await (const e of h.rt.logs(info.id, { tail: 2 })) tail.push(e.line);
    expect(tail).toEqual(['three', 'four']);
    const none: string[] = [];
    for await (const e of h.rt.logs(info.id, { since: new Date(Date.now() + 60_000) })) none.push(e.line);
    expect(none).toEqual([]);
  });

  it('follows logs of a running container until it exits', async () => {
    const c = await h.create({
      Command: ['sh', '-c', 'for i in 1 2 3 4 5; do echo line$i; sleep 0.1; done'],
    });
    await h.rt.start(c.id);
    const seen: string[] = [];
    for await (const e of h.rt.logs(c.id, { follow: true })) seen.push(e.line);
    expect(seen).toEqual(['line1', 'line2', 'line3', 'line4', 'line5']);
    expect((await h.rt.inspect(c.id)).state).toBe('exited');
  });

  it('emits start and exit events', async () => {
    const events: string[] = [];
    const off = h.rt.onEvent((e) => events.push(`${e.type}:${e.id}:${e.type === 'exit' ? e.exitCode : ''}`));
    try {
      const c = await h.create({ Command: ['sh', '-c', 'exit 5'] });
      await h.rt.start(c.id);
      await waitFor(() => events.includes(`exit:${c.id}:5`), { what: 'the exit event', timeoutMs: 10_000 });
      // Only this container's events: an earlier test's exit may still be on its way.
      expect(events.filter((e) => e.includes(`:${c.id}:`))).toEqual([`start:${c.id}:`, `exit:${c.id}:5`]);
    } finally {
      off();
    }
  });

  it('runs exec with and without a TTY and reports output and exit code', async () => {
    const c = await h.create({ Command: ['sleep', '60'], Env: ['FROM_SPEC=yes'] });
    await h.rt.start(c.id);
    const r = await h.rt.exec(c.id, ['sh', '-c', 'echo "out $FROM_SPEC $EXTRA"; echo err >&2; exit 4'], {
      env: ['EXTRA=1'],
    });
    expect(r).toMatchObject({ exitCode: 4, stdout: 'out yes 1\n', stderr: 'err\n' });
    const who = await h.rt.exec(c.id, ['id', '-u'], { user: 'app', cwd: '/tmp' });
    expect(who.stdout).toBe('1000\n');
    const fed = await h.rt.exec(c.id, ['cat'], { stdin: 'fed through stdin' });
    expect(fed.stdout).toBe('fed through stdin');
    const tty = await h.rt.exec(c.id, ['sh', '-c', 'tty; exit 2'], { tty: true });
    expect(tty.exitCode).toBe(2);
    // A terminal turns \n into \r\n, as with docker exec -t.
    expect(tty.stdout).toMatch(/^\/dev\/pts\/\d+\r\n$/);
    const slow = await h.rt.exec(c.id, ['sleep', '30'], { timeoutMs: 300 });
    expect(slow.timedOut).toBe(true);
    const slowTty = await h.rt.exec(c.id, ['sleep', '30'], { tty: true, timeoutMs: 300 });
    expect(slowTty).toMatchObject({ timedOut: true, exitCode: 137 });
    await h.rt.stop(c.id, { graceMs: 0 });
  });

  it('stops with the stop signal, and kills one that ignores it after the grace period', async () => {
    // sh as PID 1 has no handler for SIGTERM: the kernel drops it, so only SIGKILL works.
    const stubborn = await h.create({
      Command: ['sh', '-c', 'while true; do sleep 1; done'],
      StopGracePeriod: 500e6,
    });
    await h.rt.start(stubborn.id);
    const t0 = Date.now();
    const s = await h.rt.stop(stubborn.id);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(500);
    expect(s.exitCode).toBe(137);

    const polite = await h.create({
      Command: ['sh', '-c', 'trap "echo got USR1; exit 0" USR1; echo ready; while true; do sleep 0.1; done'],
      StopSignal: 'SIGUSR1',
    });
    await h.rt.start(polite.id);
    const logLines = async (): Promise<string[]> => {
      const out: string[] = [];
      for await (const e of h.rt.logs(polite.id)) out.push(e.line);
      return out;
    };
    await waitFor(async () => (await logLines()).includes('ready'), { what: 'the trap to be set' });
    const p = await h.rt.stop(polite.id, { graceMs: 20_000 });
    expect(p.exitCode).toBe(0);
    expect(await logLines()).toEqual(['ready', 'got USR1']);
  });

  it('refuses to start twice or delete a running container without force', async () => {
    const c = await h.create({ Command: ['sleep', '60'] });
    await h.rt.start(c.id);
    await expect(h.rt.start(c.id)).rejects.toThrow(/is running, not created/);
    await expect(h.rt.delete(c.id)).rejects.toThrow(/is running/);
    await h.rt.kill(c.id, 'KILL');
    expect(await h.rt.waitExit(c.id, 10_000)).toBe(true);
    expect((await h.rt.inspect(c.id)).exitCode).toBe(137);
  });

  it('delete leaves no mount, cgroup, conmon, runtime state or directory behind', async () => {
    const c = await h.create(
      {
        Command: ['sleep', '60'],
        Mounts: [{ Type: 'tmpfs', Target: '/scratch' }],
      },
      {
        files: [
          { kind: 'secret', target: 'token', data: Buffer.from('s3cret'), uid: 0, gid: 0, mode: 0o400 },
        ],
      },
    );
    await h.rt.start(c.id);
    expect(await conmonsMentioning(c.id)).toHaveLength(1);
    expect(existsSync(`/sys/fs/cgroup/memory${h.cgroupParent}/${c.id}`)).toBe(true);
    expect(await mountsUnder(join(h.runRoot, c.id))).toHaveLength(1);
    await h.rt.delete(c.id, { force: true });
    expect(await conmonsMentioning(c.id)).toEqual([]);
    expect(await mountsUnder(h.base)).toEqual([]);
    for (const hierarchy of ['memory', 'pids', 'cpu', 'devices']) {
      expect(existsSync(`/sys/fs/cgroup/${hierarchy}${h.cgroupParent}/${c.id}`)).toBe(false);
    }
    expect(existsSync(join(h.runRoot, c.id))).toBe(false);
    expect(existsSync(join(h.root, c.id))).toBe(false);
    expect(await readdir(join(h.runRoot, 'crun'))).not.toContain(c.id);
    await expect(h.rt.inspect(c.id)).rejects.toThrow(/no such container/);
    await expect(h.rt.logs(c.id)[Symbol.asyncIterator]().next()).rejects.toThrow(/no such container/);
  });
});
