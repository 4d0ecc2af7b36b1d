import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Cleanup,
  LAB_DIR,
  labLeftovers,
  runChecked,
  runCommand,
  sweepLeftovers,
  waitFor,
} from '../../lab/index.js';

/** A pid that certainly belongs to no live process: one that has just exited. */
async function deadPid(): Promise<number> {
  const child = spawn('true');
  const pid = child.pid;
  await new Promise((resolve) => child.on('exit', resolve));
  if (!pid) throw new Error('could not spawn true');
  return pid;
}

describe('sweeper', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  it('removes namespaces, links, mounts and processes of runs whose owner is dead', async () => {
    const prefix = `skl${(await deadPid()).toString(36)}_zz`;
    const netns = `${prefix}-h1`;
    const link = `${prefix}-r`;
    const dir = join(LAB_DIR, prefix);
    const mount = join(dir, 'h1', 'mnt');
    cleanup.add(async () => {
      await runCommand('umount', ['-l', mount]);
      await runCommand('ip', ['netns', 'delete', netns]);
      await runCommand('ip', ['link', 'delete', link]);
    }, 'remove fake leftovers');

    await runChecked('ip', ['netns', 'add', netns]);
    await runChecked('ip', ['link', 'add', link, 'type', 'veth', 'peer', 'name', `${prefix}-p`]);
    mkdirSync(mount, { recursive: true });
    await runChecked('mount', ['-t', 'tmpfs', 'tmpfs', mount]);
    const sleeper = spawn('ip', ['netns', 'exec', netns, 'sleep', '600'], { stdio: 'ignore' });
    const sleeperExit = new Promise((resolve) => sleeper.on('exit', (_code, signal) => resolve(signal)));
    cleanup.add(() => sleeper.kill('SIGKILL'), 'kill sleeper');
    await waitFor(async () => (await runChecked('ip', ['netns', 'pids', netns])).trim() !== '', {
      what: 'the sleeper to run in the fake namespace',
    });
    expect(labLeftovers(prefix)).toEqual(expect.arrayContaining([netns, link, `${prefix}-p`, mount, dir]));

    const report = sweepLeftovers();
    expect(report.removed).toContain(prefix);
    expect(labLeftovers(prefix)).toEqual([]);
    expect(await sleeperExit).toBe('SIGKILL');
    expect(await runChecked('ip', ['link'])).not.toContain(prefix);
  });

  it('leaves runs of live owners alone', async () => {
    const prefix = `skl${process.pid.toString(36)}_zy`;
    const netns = `${prefix}-h1`;
    cleanup.add(() => runCommand('ip', ['netns', 'delete', netns]), 'remove live namespace');
    await runChecked('ip', ['netns', 'add', netns]);

    expect(sweepLeftovers().removed).not.toContain(prefix);
    expect(labLeftovers(prefix)).toEqual([netns]);
  });
});
