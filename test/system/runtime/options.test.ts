// Less common options: runc instead of crun, a TTY container, sysctls, and a network
// namespace handed over by the network layer.
import { execFileSync } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ContainerRuntime } from '../../../agent/runtime/index.js';
import { makeBusyboxRootfs, removeRootfs } from './busybox-dir.js';
import { createHarness, type Harness, lines, removeCgroup } from './harness.js';

let h: Harness;
const netns = `skiff-rt-test-${process.pid}`;
beforeAll(async () => {
  h = await createHarness();
  execFileSync('ip', ['netns', 'add', netns]);
  execFileSync('ip', ['-n', netns, 'link', 'add', 'eth7', 'type', 'veth', 'peer', 'name', 'eth8']);
});
afterAll(async () => {
  await h?.cleanup();
  execFileSync('ip', ['netns', 'del', netns]);
});

describe('options', () => {
  it('joins the network namespace it is handed', async () => {
    const { logs } = await h.run({ Command: ['ls', '/sys/class/net'] }, { netnsPath: `/run/netns/${netns}` });
    expect(lines(logs).sort()).toEqual(['eth7', 'eth8', 'lo']);
  });

  it('applies sysctls', async () => {
    const { logs } = await h.run({
      Command: ['cat', '/proc/sys/net/ipv4/ip_unprivileged_port_start'],
      Sysctls: { 'net.ipv4.ip_unprivileged_port_start': '80' },
    });
    expect(lines(logs)).toEqual(['80']);
  });

  it('runs a container with a TTY: its output arrives through the terminal', async () => {
    const { logs, info } = await h.run({
      Command: ['sh', '-c', 'tty; echo to-stderr >&2; exit 4'],
      TTY: true,
    });
    expect(info.exitCode).toBe(4);
    const out = lines(logs).map((l) => l.replace(/\r$/, ''));
    expect(out[0]).toMatch(/^\/dev\/pts\/\d+$/);
    expect(out.slice(1)).toEqual(['to-stderr']);
    expect(logs.every((e) => e.stream === 'stdout')).toBe(true);
  });

  it('keeps stdin open with OpenStdin', async () => {
    const open = await h.create({ Command: ['cat'], OpenStdin: true });
    const closed = await h.create({ Command: ['cat'] });
    await h.rt.start(open.id);
    await h.rt.start(closed.id);
    // Without stdin, cat sees end-of-file at once; with it, cat waits for input.
    expect(await h.rt.waitExit(closed.id, 20_000)).toBe(true);
    expect((await h.rt.inspect(open.id)).state).toBe('running');
    await h.rt.delete(open.id, { force: true });
  });

  it('runs containers with runc when the node selects it', async () => {
    const base = join(tmpdir(), `skiff-runc-${process.pid}`);
    const rt = new ContainerRuntime({
      root: join(base, 'containers'),
      runRoot: join(base, 'run'),
      runtime: 'runc',
      cgroupParent: `/skiff-test/runc-${process.pid}`,
    });
    const rootfs = await makeBusyboxRootfs();
    try {
      await rt.create({
        id: 'via-runc',
        name: 'via-runc',
        rootfs,
        imageConfig: {},
        spec: { Image: 'busybox', Command: ['sh', '-c', 'echo runc here; exit 6'] },
        resources: { Limits: { MemoryBytes: 32 << 20 } },
      });
      await rt.start('via-runc');
      expect(await rt.waitExit('via-runc', 20_000)).toBe(true);
      expect(await rt.inspect('via-runc')).toMatchObject({ state: 'exited', exitCode: 6 });
      const out: string[] = [];
      for await (const e of rt.logs('via-runc')) out.push(e.line);
      expect(out).toEqual(['runc here']);
      await rt.delete('via-runc');
      expect(await readdir(join(base, 'run', 'runc'))).toEqual([]);
    } finally {
      rt.close();
      for (const c of await rt.list()) await rt.delete(c.id, { force: true });
      await removeRootfs(rootfs);
      await rm(base, { recursive: true, force: true });
      await removeCgroup(`/skiff-test/runc-${process.pid}`);
      await removeCgroup('/skiff-test');
    }
  });
});
