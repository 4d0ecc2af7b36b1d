// One ContainerRuntime per test file on its own temp state/run roots and cgroup
// parent, and a clean-up that removes every container, rootfs, directory and cgroup
// the file made, also when a test failed.
import { mkdtemp, readdir, readFile, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import {
  type ContainerCreateSpec,
  type ContainerInfo,
  ContainerRuntime,
  type LogEntry,
} from '../../../agent/runtime/index.js';
import type { ContainerSpec } from '../../../lib/index.js';
import { makeBusyboxRootfs, removeRootfs } from './busybox-dir.js';

export interface Harness {
  rt: ContainerRuntime;
  base: string;
  root: string;
  runRoot: string;
  cgroupParent: string;
  /** Creates a container on a fresh busybox rootfs. */
  create(
    spec: Partial<ContainerSpec> & { Command?: string[] },
    more?: Partial<ContainerCreateSpec>,
  ): Promise<ContainerInfo>;
  /** create + start + wait for exit; returns the final info and the logs. */
  run(
    spec: Partial<ContainerSpec>,
    more?: Partial<ContainerCreateSpec>,
  ): Promise<{ info: ContainerInfo; logs: LogEntry[] }>;
  cleanup(): Promise<void>;
}

let seq = 0;

export async function createHarness(opts: { logSizeMax?: number } = {}): Promise<Harness> {
  const base = await mkdtemp(join(tmpdir(), 'skiff-rt-'));
  const root = join(base, 'state', 'containers');
  const runRoot = join(base, 'run');
  const cgroupParent = `/skiff-test/${basename(base)}`;
  const rt = new ContainerRuntime({ root, runRoot, cgroupParent, ...opts });
  const rootfsDirs: string[] = [];
  const h: Harness = {
    rt,
    base,
    root,
    runRoot,
    cgroupParent,
    async create(spec, more = {}) {
      const rootfs = more.rootfs ?? (await makeBusyboxRootfs());
      if (!more.rootfs) rootfsDirs.push(rootfs);
      const id = more.id ?? `c${process.pid}x${++seq}`;
      return rt.create({
        id,
        name: more.name ?? id,
        rootfs,
        imageConfig: more.imageConfig ?? {},
        spec: { Image: 'busybox', ...spec },
        ...more,
      });
    },
    async run(spec, more = {}) {
      const c = await h.create(spec, more);
      await rt.start(c.id);
      if (!(await rt.waitExit(c.id, 20_000))) throw new Error(`container ${c.id} did not exit within 20 s`);
      const logs: LogEntry[] = [];
      for await (const e of rt.logs(c.id)) logs.push(e);
      return { info: await rt.inspect(c.id), logs };
    },
    async cleanup() {
      rt.close();
      for (const c of await rt.list()) await rt.delete(c.id, { force: true });
      // The suite's promise: nothing left behind once every container is deleted.
      const leftovers = [
        ...(await mountsUnder(base)).map((m) => `mount ${m}`),
        ...(await conmonsMentioning(base)).map((p) => `conmon pid ${p}`),
        ...(await readdir(join(runRoot, 'crun')).catch(() => [])).map((c) => `crun state ${c}`),
      ];
      for (const d of rootfsDirs) await removeRootfs(d);
      await rm(base, { recursive: true, force: true });
      await removeCgroup(cgroupParent);
      await removeCgroup('/skiff-test');
      if (leftovers.length > 0)
        throw new Error(`left behind after deleting every container: ${leftovers.join(', ')}`);
    },
  };
  return h;
}

/** Removes an (empty) cgroup directory from every v1 hierarchy. */
export async function removeCgroup(path: string): Promise<void> {
  for (const hierarchy of await readdir('/sys/fs/cgroup')) {
    await rmdir(join('/sys/fs/cgroup', hierarchy, path)).catch(() => undefined);
  }
}

/** Mount points under `prefix` in this process's mount table. */
export async function mountsUnder(prefix: string): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p.startsWith(prefix));
}

/** PIDs of conmon processes whose command line mentions `needle`. */
export async function conmonsMentioning(needle: string): Promise<number[]> {
  const out: number[] = [];
  for (const d of await readdir('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = (await readFile(`/proc/${d}/cmdline`, 'utf8')).split('\0');
      if (basename(cmd[0] ?? '') === 'conmon' && cmd.some((a) => a.includes(needle))) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

export function lines(logs: LogEntry[], stream?: 'stdout' | 'stderr'): string[] {
  return logs.filter((e) => !stream || e.stream === stream).map((e) => e.line);
}
