// `against-baseline`: this tree next to another build of skiff (BENCH_BASELINE, e.g. a
// git worktree of the commit before a refactor, built with `npx tsc -p tsconfig.build.json`),
// interleaved run by run: a single-node daemon from nothing to answering /_ping, then
// `skiff service ls` against it (the time a user waits for the simplest command).
// Both trees run as compiled JavaScript from their own dist/.
//
//   BENCH_BASELINE=/work/old npx tsx bench/against-baseline.ts
//
// Without BENCH_BASELINE (the smoke test) it measures this tree alone, once.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  interleave,
  median,
  onInterrupt,
  REPO_ROOT,
  round,
  runChecked,
  runCommand,
  waitForPing,
} from './lib/index.js';

const tiny = process.env.BENCH_SIZE === 'tiny';
const LS_RUNS = tiny ? 1 : 5;

interface Sample {
  startMs: number;
  /** Median wall time of `service ls` over LS_RUNS runs. */
  lsMs: number;
}

function mainOf(tree: string): string {
  const main = join(tree, 'dist', 'cli', 'main.js');
  if (!existsSync(main))
    throw new Error(`${tree} is not built (no dist/cli/main.js): npx tsc -p tsconfig.build.json`);
  return main;
}

async function once(main: string): Promise<Sample> {
  const dir = await mkdtemp(join(tmpdir(), 'skb-'));
  const runDir = join(dir, 'run');
  const socket = join(runDir, 'skiff.sock');
  let child: ChildProcess | undefined;
  const stop = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child!.once('exit', () => r()));
      child.kill('SIGTERM');
      const killer = setTimeout(() => child?.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(killer);
    }
    for (const m of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const point = m.split(' ')[4];
      if (point?.startsWith(`${dir}/`)) await runCommand('umount', ['-l', point]);
    }
    await rm(dir, { recursive: true, force: true });
  };
  const unregister = onInterrupt(`skiff daemon in ${dir}`, stop);
  try {
    const log = openSync(join(dir, 'daemon.out'), 'a');
    const t0 = performance.now();
    child = spawn(
      process.execPath,
      [main, 'daemon', 'run', '--state-dir', join(dir, 'state'), '--run-dir', runDir, '--log-level', 'warn'],
      { stdio: ['ignore', log, log] },
    );
    closeSync(log);
    const died = new Promise<never>((_, reject) =>
      child!.once('exit', (code, signal) =>
        reject(
          new Error(`daemon exited (${signal ?? code}): ${readFileSync(join(dir, 'daemon.out'), 'utf8')}`),
        ),
      ),
    );
    died.catch(() => {});
    await Promise.race([died, waitForPing(socket, `the daemon on ${socket} to answer /_ping`)]);
    const startMs = performance.now() - t0;
    const { SKIFF_HOST: _ignored, ...env } = process.env;
    const ls: number[] = [];
    for (let i = 0; i < LS_RUNS; i++) {
      const t = performance.now();
      await runChecked(process.execPath, [main, 'service', 'ls'], {
        env: { ...env, SKIFF_HOST: `unix://${socket}` },
      });
      ls.push(performance.now() - t);
    }
    return { startMs, lsMs: median(ls) };
  } finally {
    await stop();
    unregister();
  }
}

function emit(f: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ name: 'against-baseline', ...f })}\n`);
}

const current = mainOf(REPO_ROOT);
const baselineTree = process.env.BENCH_BASELINE;
if (!baselineTree) {
  const s = await once(current);
  emit({ metric: 'daemon start to /_ping', unit: 'ms', value: round(s.startMs) });
  emit({ metric: 'skiff service ls', unit: 'ms', value: round(s.lsMs) });
} else {
  const baseline = mainOf(resolve(baselineTree));
  const a: Sample[] = [];
  const b: Sample[] = [];
  const keep = (into: Sample[], run: number) => (s: Sample) => {
    if (run >= 0) into.push(s);
  };
  await interleave(
    (run) => once(current).then(keep(a, run)),
    (run) => once(baseline).then(keep(b, run)),
    { warmup: 1, runs: tiny ? 1 : 7 },
  );
  const peer = `baseline ${baselineTree}`;
  for (const [metric, pick] of [
    ['daemon start to /_ping median', (s: Sample) => s.startMs],
    ['skiff service ls median', (s: Sample) => s.lsMs],
  ] as const) {
    const value = median(a.map(pick));
    const peerValue = median(b.map(pick));
    emit({
      metric,
      unit: 'ms',
      value: round(value),
      peer,
      peerValue: round(peerValue),
      ratio: round(value / peerValue),
    });
  }
}
