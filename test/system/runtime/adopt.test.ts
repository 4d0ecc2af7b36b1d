// The agent dies (kill -9) while containers run: they keep running under conmon, and
// a new agent adopts them — same PIDs, logs still growing — and learns the exit code
// of one that exited while no agent was running.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContainerEvent, ContainerInfo } from '../../../agent/runtime/index.js';
import { waitFor } from '../../lab/index.js';
import { makeBusyboxRootfs, removeRootfs } from './busybox-dir.js';
import { conmonsMentioning, createHarness, type Harness } from './harness.js';

let h: Harness;
const rootfsDirs: string[] = [];
let child: ChildProcess | undefined;

beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await h?.cleanup();
  for (const d of rootfsDirs) await removeRootfs(d);
});

async function logCount(id: string): Promise<number> {
  let n = 0;
  for await (const _ of h.rt.logs(id)) n++;
  return n;
}

describe('adoption after the agent is killed', () => {
  it('finds 5 running containers with the same PIDs and growing logs, and the exit of a sixth', async () => {
    const containers: { id: string; rootfs: string; command: string[] }[] = [];
    for (let i = 0; i < 6; i++) {
      const rootfs = await makeBusyboxRootfs();
      rootfsDirs.push(rootfs);
      const command =
        i < 5
          ? ['sh', '-c', 'i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.1; done']
          : ['sh', '-c', 'while [ ! -f /tmp/go ]; do sleep 0.05; done; exit 42'];
      containers.push({ id: `adopt${process.pid}n${i}`, rootfs, command });
    }
    child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(import.meta.dirname, 'agent-child.ts'),
        JSON.stringify({ root: h.root, runRoot: h.runRoot, cgroupParent: h.cgroupParent, containers }),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const before = await waitFor(
      () => (out.includes('\n') ? (JSON.parse(out) as ContainerInfo[]) : undefined),
      {
        what: 'the child agent to start 6 containers',
        timeoutMs: 60_000,
      },
    );
    expect(before.map((c) => c.state)).toEqual(Array(6).fill('running'));

    // kill -9 the agent; then the sixth container exits while no agent runs.
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    await writeFile(join(containers[5]!.rootfs, 'tmp', 'go'), '');
    await waitFor(async () => (await conmonsMentioning(containers[5]!.id)).length === 0, {
      what: "the sixth container's conmon to record its exit and leave",
      timeoutMs: 15_000,
    });

    // A create the crash interrupted: a directory without a record.
    await mkdir(join(h.root, 'half-made'), { recursive: true });
    await mkdir(join(h.runRoot, 'half-made'), { recursive: true });

    const events: ContainerEvent[] = [];
    h.rt.onEvent((e) => events.push(e));
    const adopted = await h.rt.adopt();
    const byId = new Map(adopted.map((c) => [c.id, c]));
    for (let i = 0; i < 5; i++) {
      const c = byId.get(containers[i]!.id);
      expect(c?.state).toBe('running');
      expect(c?.pid).toBe(before[i]!.pid);
      expect(await conmonsMentioning(containers[i]!.id)).toHaveLength(1);
    }
    expect(byId.has('half-made')).toBe(false);
    expect(existsSync(join(h.root, 'half-made'))).toBe(false);
    expect(existsSync(join(h.runRoot, 'half-made'))).toBe(false);
    const sixth = byId.get(containers[5]!.id);
    expect(sixth).toMatchObject({ state: 'exited', exitCode: 42 });
    expect(events).toContainEqual(
      expect.objectContaining({ type: 'exit', id: containers[5]!.id, exitCode: 42 }),
    );

    // Logs continue: more lines appear after adoption, and follow sees new ones.
    for (let i = 0; i < 5; i++) {
      const id = containers[i]!.id;
      const n = await logCount(id);
      await waitFor(async () => (await logCount(id)) > n + 2, {
        what: `more log lines from ${id}`,
        timeoutMs: 10_000,
      });
    }
    const abort = new AbortController();
    const followed: string[] = [];
    for await (const e of h.rt.logs(containers[0]!.id, { follow: true, tail: 0, signal: abort.signal })) {
      followed.push(e.line);
      if (followed.length === 3) abort.abort();
    }
    const nums = followed.map((l) => Number(l.split(' ')[1]));
    expect(nums[1]).toBe(nums[0]! + 1);

    // Adopted containers are fully manageable: stop them; their exits are reported.
    for (let i = 0; i < 5; i++) {
      const s = await h.rt.stop(containers[i]!.id, { graceMs: 100 });
      expect(s).toMatchObject({ state: 'exited', exitCode: 137 });
    }
    await waitFor(
      () => containers.slice(0, 5).every((c) => events.some((e) => e.type === 'exit' && e.id === c.id)),
      { what: 'exit events of the adopted containers', timeoutMs: 10_000 },
    );
  });
});
