import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Cleanup,
  createLab,
  type Lab,
  type LabHost,
  labLeftovers,
  runChecked,
  waitFor,
} from '../../lab/index.js';

const PORT = '7000';

/** Gone or a zombie: the kernel no longer runs it (its reaper may be slow). */
function isDead(pid: number): boolean {
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/** A persistent TCP server in `host` that answers every connection with its name. */
function startGreeter(host: LabHost): void {
  const script = join(host.dir, 'greet');
  writeFileSync(script, `#!/bin/busybox sh\necho hello-from-${host.name}\n`, { mode: 0o755 });
  host.spawn('busybox', ['nc', '-ll', '-p', PORT, '-e', script]);
}

/** Connects from `from` to `to` with a 2 s connect timeout; the greeting or undefined. */
/** Waits until `from` gets `to`'s greeting (a slow fork on a busy machine is not a failure). */
async function expectReach(from: LabHost, to: LabHost, when = ''): Promise<void> {
  await waitFor(async () => (await greet(from, to)) === `hello-from-${to.name}`, {
    what: `${from.name} to reach ${to.name} on TCP${when}`,
    timeoutMs: 15_000,
  });
}

async function greet(from: LabHost, to: LabHost): Promise<string | undefined> {
  const r = await from.exec('busybox', ['nc', '-w', '2', to.addr, PORT], { timeoutMs: 10_000 });
  return r.code === 0 ? r.stdout.trim() : undefined;
}

describe('lab', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  it('connects hosts, partitions one with cut, heals it with restore, and leaves nothing behind', async () => {
    const lab = cleanup.track(await createLab({ hosts: 3 }), (l) => l.destroy(), 'destroy lab');
    const [a, b, c] = lab.hosts as [LabHost, LabHost, LabHost];
    expect(new Set(lab.hosts.map((h) => h.addr)).size).toBe(3);
    startGreeter(a);
    await expectReach(b, a);

    await lab.cut(b);
    expect(await greet(b, a)).toBeUndefined();
    // Only b is cut off: c still reaches a.
    await expectReach(c, a);

    await lab.restore(b);
    await expectReach(b, a, ' after restore');

    await lab.destroy();
    expect(labLeftovers(lab.prefix)).toEqual([]);
    expect(await runChecked('ip', ['netns', 'list'])).not.toContain(lab.prefix);
    expect(await runChecked('ip', ['link'])).not.toContain(lab.prefix);
  });

  it('blocks traffic between two hosts only, and heals', async () => {
    const lab = cleanup.track(await createLab({ hosts: 3 }), (l) => l.destroy(), 'destroy lab');
    const [a, b, c] = lab.hosts as [LabHost, LabHost, LabHost];
    for (const host of lab.hosts) startGreeter(host);
    await expectReach(b, a);

    await lab.block(a, b);
    expect(await greet(b, a)).toBeUndefined();
    await expectReach(a, c);
    await expectReach(b, c);
    await expectReach(c, a);

    await lab.cut(c);
    await lab.heal();
    await expectReach(b, a, ' after heal');
    await expectReach(a, c, ' after heal');
    await expect(lab.block(a, 'h1')).rejects.toThrow(/itself/);
  });

  it('gives every namespace its own loopback and runs processes inside the host', async () => {
    const lab = cleanup.track(await createLab({ hosts: 2 }), (l) => l.destroy(), 'destroy lab');
    const [a, b] = lab.hosts as [LabHost, LabHost];
    const addrs = await a.run('ip', ['-4', '-o', 'addr', 'show']);
    expect(addrs).toMatch(/lo\s+inet 127\.0\.0\.1/);
    expect(addrs).toContain(`inet ${a.addr}/24`);
    expect(addrs).not.toContain(b.addr);
    await expect(a.run('false', [])).rejects.toThrow(/failed with status 1/);

    // The same port in two hosts does not collide: each host is its own network stack.
    startGreeter(a);
    startGreeter(b);
    await expectReach(a, a);
    await expectReach(a, b);
  });

  it('kills -9 and restarts processes', async () => {
    const lab = cleanup.track(await createLab({ hosts: 2 }), (l) => l.destroy(), 'destroy lab');
    const [a, b] = lab.hosts as [LabHost, LabHost];
    startGreeter(a);
    const server = a.processes()[0];
    if (!server) throw new Error('greeter not tracked');
    await expectReach(b, a);
    const firstPid = server.pid;

    await a.killAll();
    expect(server.running).toBe(false);
    expect(server.lastExit?.signal).toBe('SIGKILL');
    expect(await greet(b, a)).toBeUndefined();

    await server.restart();
    expect(server.pid).not.toBe(firstPid);
    await expectReach(b, a);
  });

  it('crash kills every process in the host, also ones it did not spawn itself', async () => {
    const lab = cleanup.track(await createLab({ hosts: 1 }), (l) => l.destroy(), 'destroy lab');
    const [a] = lab.hosts as [LabHost];
    // The shell backgrounds a sleeper the lab does not track, then waits on it.
    const shell = a.spawn('sh', ['-c', 'sleep 600 & echo started $!; wait']);
    const sleeperPid = await waitFor(() => /started (\d+)/.exec(shell.output())?.[1], {
      what: 'the untracked sleeper to start',
    });
    await a.crash();
    expect(shell.running).toBe(false);
    await waitFor(() => isDead(Number(sleeperPid)), { what: `untracked sleeper ${sleeperPid} to die` });
  });

  it('lets the test process reach hosts with hostAccess', async () => {
    const lab: Lab = cleanup.track(await createLab({ hosts: 1, hostAccess: true }), (l) => l.destroy());
    const [a] = lab.hosts as [LabHost];
    startGreeter(a);
    await waitFor(
      async () => {
        const r = await runChecked('busybox', ['nc', '-w', '2', a.addr, PORT], { timeoutMs: 10_000 });
        return r.trim() === 'hello-from-h1';
      },
      { what: 'the test process to reach h1' },
    );
    await lab.destroy();
    expect(await runChecked('ip', ['link'])).not.toContain(lab.prefix);
  });

  it('runs in a private mount namespace unless asked to share mounts', async () => {
    const lab = cleanup.track(await createLab({ hosts: 1 }), (l) => l.destroy(), 'destroy lab');
    const [a] = lab.hosts as [LabHost];
    expect(await a.run('ip', ['-4', '-o', 'addr', 'show', 'eth0'], { sharedMounts: true })).toContain(a.addr);
    const privateMount = join(a.dir, 'private');
    const sharedMount = join(a.dir, 'shared');
    mkdirSync(privateMount);
    mkdirSync(sharedMount);
    await a.run('mount', ['-t', 'tmpfs', 'tmpfs', privateMount]);
    await a.run('mount', ['-t', 'tmpfs', 'tmpfs', sharedMount], { sharedMounts: true });
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
    expect(mounts).not.toContain(` ${privateMount} `);
    expect(mounts).toContain(` ${sharedMount} `);
    // destroy unmounts what the lab's processes left mounted in its directories.
    await lab.destroy();
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(` ${sharedMount} `);
  });

  it('rejects a bad host count without creating anything', async () => {
    await expect(createLab({ hosts: 0 })).rejects.toThrow(/hosts must be an integer/);
  });
});
