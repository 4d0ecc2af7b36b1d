import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Cleanup, labLeftovers, sweepLeftovers, waitFor } from '../../lab/index.js';

const FIXTURE = fileURLToPath(new URL('./interrupted-run.fixture.ts', import.meta.url));

/** Starts a run in a child process and resolves with it and its lab prefix once the lab exists. */
async function startRun(cleanup: Cleanup): Promise<{ child: ChildProcess; prefix: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], { stdio: ['ignore', 'pipe', 'pipe'] });
  cleanup.add(() => child.kill('SIGKILL'), 'kill the run');
  let out = '';
  child.stdout?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  child.stderr?.on('data', (b: Buffer) => {
    out += b.toString();
  });
  const prefix = await waitFor(() => /^(skl\S+)\n/.exec(out)?.[1], {
    what: 'the interrupted-run fixture to create its lab',
    timeoutMs: 30_000,
  });
  cleanup.add(() => sweepLeftovers(), 'sweep the run');
  return { child, prefix };
}

function exited(child: ChildProcess): Promise<NodeJS.Signals | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.signalCode);
    else child.on('exit', (_code, signal) => resolve(signal));
  });
}

describe('interrupted lab runs', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  it('removes the lab when the run gets SIGTERM or SIGINT', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const { child, prefix } = await startRun(cleanup);
      expect(labLeftovers(prefix).length).toBeGreaterThan(0);
      child.kill(signal);
      expect(await exited(child)).toBe(signal);
      expect(labLeftovers(prefix)).toEqual([]);
    }
  });

  it('leaves a killed run to the sweeper, which removes it', async () => {
    const { child, prefix } = await startRun(cleanup);
    child.kill('SIGKILL');
    await exited(child);
    expect(labLeftovers(prefix).length).toBeGreaterThan(0);
    expect(sweepLeftovers().removed).toContain(prefix);
    expect(labLeftovers(prefix)).toEqual([]);
  });
});
