// A skiff single-node daemon of a benchmark's own, in a fresh temp dir: started (timed to
// answering /_ping), stopped, started again over its state, and removed with whatever it
// mounted. Used by daemon-start and against-baseline.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from './command.js';
import { waitForPing } from './ping.js';
import { errorLine, REPO_ROOT } from './script.js';
import { onInterrupt } from './teardown.js';

export interface BenchDaemon {
  dir: string;
  /** The API's unix socket. */
  socket: string;
  /** Starts the daemon; resolves with the ms from spawn to /_ping answering. */
  start(): Promise<number>;
  /** Stops the daemon process (SIGTERM, SIGKILL after 20 s); its state stays. */
  stopProcess(): Promise<void>;
  /** Stops it and removes its directory and mounts. */
  remove(): Promise<void>;
}

/** `entry`: the node arguments that run skiff (a built main.js, or tsx and the sources). */
export async function benchDaemon(entry: readonly string[]): Promise<BenchDaemon> {
  const dir = await mkdtemp(join(tmpdir(), 'skd-'));
  const socket = join(dir, 'run', 'skiff.sock');
  const out = join(dir, 'daemon.out');
  let child: ChildProcess | undefined;
  const stopProcess = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child!.once('exit', () => r()));
      child.kill('SIGTERM');
      const killer = setTimeout(() => child?.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(killer);
    }
  };
  const remove = async () => {
    await stopProcess();
    for (const m of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const point = m.split(' ')[4];
      if (point?.startsWith(`${dir}/`)) await runCommand('umount', ['-l', point]);
    }
    await rm(dir, { recursive: true, force: true });
    unregister();
  };
  const unregister = onInterrupt(`skiff daemon in ${dir}`, remove);
  const start = async (): Promise<number> => {
    const log = openSync(out, 'a');
    const t0 = performance.now();
    const args = ['daemon', 'run', '--state-dir', join(dir, 'state'), '--run-dir', join(dir, 'run')];
    child = spawn(process.execPath, [...entry, ...args, '--log-level', 'warn'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    const died = new Promise<never>((_, reject) =>
      child!.once('exit', (code, signal) => {
        const text = existsSync(out) ? readFileSync(out, 'utf8') : '';
        reject(new Error(`skiff daemon exited (${signal ?? code}): ${errorLine(text)}`));
      }),
    );
    died.catch(() => {});
    await Promise.race([died, waitForPing(socket, `skiff daemon on ${socket} to answer /_ping`)]);
    return performance.now() - t0;
  };
  return { dir, socket, start, stopProcess, remove };
}
