// What a container may do: cgroup limits (memory with OOM detection, pids), a
// read-only root, Docker's capability set, rlimits, init as PID 1, masked paths.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../lab/index.js';
import { createHarness, type Harness, lines } from './harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  await h?.cleanup();
});

describe('limits', () => {
  it('kills a container over its memory limit and reports it as OOM-killed', async () => {
    // Each `x=$x$x` doubles a shell string: far beyond 16 MiB within a few rounds.
    const { info } = await h.run(
      { Command: ['sh', '-c', 'x=0123456789abcdef; while true; do x=$x$x; done'] },
      { resources: { Limits: { MemoryBytes: 16 * 1024 * 1024 } } },
    );
    expect(info.state).toBe('exited');
    expect(info.exitCode).toBe(137);
    expect(info.oomKilled).toBe(true);
  });

  it('enforces a pids limit', async () => {
    const c = await h.create({ Command: ['sleep', '60'] }, { resources: { Limits: { Pids: 5 } } });
    try {
      await h.rt.start(c.id);
      const r = await h.rt.exec(c.id, ['sh', '-c', 'for i in 1 2 3 4 5 6 7 8 9 10; do sleep 30 & done']);
      expect(r.exitCode).not.toBe(0);
      expect(r.stderr).toMatch(/can't fork/);
      const cgroup = `/sys/fs/cgroup/pids${h.cgroupParent}/${c.id}`;
      expect((await readFile(`${cgroup}/pids.max`, 'utf8')).trim()).toBe('5');
      expect(Number(await readFile(`${cgroup}/pids.current`, 'utf8'))).toBeLessThanOrEqual(5);
    } finally {
      await h.rt.delete(c.id, { force: true });
    }
  });

  it('sets cpu and memory limits in the container cgroup', async () => {
    const c = await h.create(
      { Command: ['sleep', '60'] },
      { resources: { Limits: { NanoCPUs: 500_000_000, MemoryBytes: 64 * 1024 * 1024 } } },
    );
    try {
      await h.rt.start(c.id);
      const r = await h.rt.exec(c.id, [
        'cat',
        '/sys/fs/cgroup/cpu/cpu.cfs_quota_us',
        '/sys/fs/cgroup/memory/memory.limit_in_bytes',
      ]);
      expect(r.stdout.split('\n').slice(0, 2)).toEqual(['50000', String(64 * 1024 * 1024)]);
    } finally {
      await h.rt.delete(c.id, { force: true });
    }
  });

  it('applies ulimits and refuses one above the host hard limit with a clear error', async () => {
    const { logs } = await h.run({
      Command: ['sh', '-c', 'ulimit -n; ulimit -Hn'],
      Ulimits: [{ Name: 'nofile', Soft: 1000, Hard: 2000 }],
    });
    expect(lines(logs)).toEqual(['1000', '2000']);
    await expect(
      h.create({ Command: ['true'], Ulimits: [{ Name: 'nofile', Soft: 1, Hard: 10_000_000 }] }),
    ).rejects.toThrow(/above this node's hard limit/);
  });
});

describe('isolation', () => {
  it('makes the root read-only when asked, with writable tmpfs mounts', async () => {
    const { logs } = await h.run({
      Command: [
        'sh',
        '-c',
        'touch /rootfile 2>/dev/null && echo root-writable || echo root-ro; touch /scratch/f && echo tmpfs-ok',
      ],
      ReadOnly: true,
      Mounts: [{ Type: 'tmpfs', Target: '/scratch' }],
    });
    expect(lines(logs, 'stdout')).toEqual(['root-ro', 'tmpfs-ok']);
    const rw = await h.run({ Command: ['sh', '-c', 'touch /rootfile && echo root-writable'] });
    expect(lines(rw.logs)).toEqual(['root-writable']);
  });

  it("has Docker's capabilities: no NET_ADMIN unless added, NET_RAW droppable", async () => {
    const script = 'ip link add v0 type veth peer name v1 2>/dev/null && echo link-ok || echo link-denied';
    const plain = await h.run({ Command: ['sh', '-c', script] });
    expect(lines(plain.logs)).toEqual(['link-denied']);
    const added = await h.run({ Command: ['sh', '-c', script], CapabilityAdd: ['NET_ADMIN'] });
    expect(lines(added.logs)).toEqual(['link-ok']);
    const chown = 'touch /f && chown 1000 /f 2>/dev/null && echo chown-ok || echo chown-denied';
    expect(lines((await h.run({ Command: ['sh', '-c', chown] })).logs)).toEqual(['chown-ok']);
    expect(lines((await h.run({ Command: ['sh', '-c', chown], CapabilityDrop: ['CHOWN'] })).logs)).toEqual([
      'chown-denied',
    ]);
  });

  it('sets no-new-privileges, masks /proc paths and mounts /sys read-only', async () => {
    const { logs } = await h.run({
      Command: [
        'sh',
        '-c',
        'grep NoNewPrivs /proc/self/status | tr -s "\\t " " "; wc -c </proc/keys; touch /sys/x 2>/dev/null || echo sys-ro; echo 1 >/proc/sys/kernel/domainname 2>/dev/null || echo procsys-ro',
      ],
    });
    expect(lines(logs, 'stdout')).toEqual(['NoNewPrivs: 1', '0', 'sys-ro', 'procsys-ro']);
  });

  it('has its own pid, uts and network namespaces with only lo', async () => {
    const { logs } = await h.run({
      Command: ['sh', '-c', 'echo $$; hostname; ls /sys/class/net'],
      Hostname: 'iso',
    });
    expect(lines(logs)).toEqual(['1', 'iso', 'lo']);
  });

  it('runs the init (catatonit) as PID 1 with Init: true', async () => {
    const { logs, info } = await h.run({ Command: ['sh', '-c', 'cat /proc/1/comm; echo $$'], Init: true });
    expect(info.exitCode).toBe(0);
    const [pid1, shPid] = lines(logs);
    expect(pid1).toBe('skiff-init');
    expect(Number(shPid)).toBeGreaterThan(1);
  });

  it('stops a container with an init promptly: the init forwards SIGTERM', async () => {
    const c = await h.create({
      Command: ['sh', '-c', 'echo ready; exec sleep 60'],
      Init: true,
      StopGracePeriod: 30e9,
    });
    await h.rt.start(c.id);
    // A signal that reaches PID 1 before the init has installed its handlers is dropped by
    // the kernel (a namespace's init ignores what it does not handle): stop once the
    // init has started the command.
    await waitFor(
      async () => {
        for await (const e of h.rt.logs(c.id, {})) if (e.line === 'ready') return true;
        return undefined;
      },
      { what: 'the command to run under the init', timeoutMs: 20_000 },
    );
    const t0 = Date.now();
    const info = await h.rt.stop(c.id);
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(info.exitCode).toBe(143);
  });
});
