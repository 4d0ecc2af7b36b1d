// `daemon-start`: a node daemon from nothing to answering its API (GET /_ping on its
// unix socket), each with a fresh state directory — skiff's single-node daemon (manager
// and agent in one process) next to dockerd (+ the containerd it starts), interleaved
// run by run. Also each one's resident memory once it answers, and skiff's restart over
// the state directory a previous start left (the usual `compose up` after a reboot).
//
// skiff runs as compiled JavaScript (as installed from dist/), built here without type
// checking so the figure is the daemon's, not tsx's. At tiny size (the smoke test) it
// runs under tsx once, and dockerd is left out (installing docker.io takes ~40 s).
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type BenchContext,
  type Benchmark,
  errorLine,
  interleave,
  median,
  onInterrupt,
  REPO_ROOT,
  repeat,
  residentKiB,
  round,
  runCommand,
  sideBySideFigures,
  waitForPing,
} from '../lib/index.js';
import { startDockerd } from '../peers/index.js';
import { skiffEntry } from '../skiff-vs-swarm/index.js';

interface Sample {
  readyMs: number;
  rssKiB: number;
}

/**
 * Starts a skiff daemon in a fresh temp dir, measures it, stops it, removes the dir.
 * `restart`: starts and stops it once first, then measures a start over that state.
 */
async function skiffOnce(entry: string[], opts: { restart?: boolean } = {}): Promise<Sample> {
  const dir = await mkdtemp(join(tmpdir(), 'skd-'));
  const socket = join(dir, 'run', 'skiff.sock');
  let child: ChildProcess | undefined;
  const stopChild = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((r) => child!.once('exit', () => r()));
      child.kill('SIGTERM');
      const killer = setTimeout(() => child?.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(killer);
    }
  };
  const stop = async () => {
    await stopChild();
    for (const m of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const point = m.split(' ')[4];
      if (point?.startsWith(`${dir}/`)) await runCommand('umount', ['-l', point]);
    }
    await rm(dir, { recursive: true, force: true });
  };
  const unregister = onInterrupt(`skiff daemon in ${dir}`, stop);
  const startAndWait = async (): Promise<number> => {
    const log = openSync(join(dir, 'daemon.out'), 'a');
    const t0 = performance.now();
    child = spawn(
      process.execPath,
      [
        ...entry,
        'daemon',
        'run',
        '--state-dir',
        join(dir, 'state'),
        '--run-dir',
        join(dir, 'run'),
        '--log-level',
        'warn',
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', log, log] },
    );
    closeSync(log);
    const died = new Promise<never>((_, reject) =>
      child!.once('exit', (code, signal) => {
        const out = existsSync(join(dir, 'daemon.out')) ? readFileSync(join(dir, 'daemon.out'), 'utf8') : '';
        reject(new Error(`skiff daemon exited (${signal ?? code}): ${errorLine(out)}`));
      }),
    );
    died.catch(() => {});
    await Promise.race([died, waitForPing(socket, `skiff daemon on ${socket} to answer /_ping`)]);
    return performance.now() - t0;
  };
  try {
    if (opts.restart) {
      await startAndWait();
      await stopChild();
    }
    const readyMs = await startAndWait();
    return { readyMs, rssKiB: residentKiB(dir).kib };
  } finally {
    await stop();
    unregister();
  }
}

async function dockerdOnce(ctx: BenchContext): Promise<Sample> {
  const d = await startDockerd({ log: (m) => ctx.log(m) });
  try {
    return { readyMs: d.readyMs, rssKiB: residentKiB(d.stateDir).kib };
  } finally {
    await d.stop();
  }
}

function emitRestart(ctx: BenchContext, s: { median: number }): void {
  ctx.emit({
    name: 'daemon-start',
    metric: 'restart over existing state to /_ping median',
    unit: 'ms',
    value: round(s.median),
  });
}

export const daemonStartBenchmark: Benchmark = {
  name: 'daemon-start',
  description:
    'node daemon start to API ready and its memory: skiff single-node daemon vs dockerd (interleaved)',
  async run(ctx) {
    const entry = await skiffEntry(ctx.size === 'tiny', ctx.log);
    const name = 'daemon-start';
    const skiff: Sample[] = [];
    const keep = (into: Sample[], run: number) => (s: Sample) => {
      if (run >= 0) into.push(s);
      return s.readyMs;
    };
    if (ctx.size === 'tiny' || process.env.BENCH_DOCKER === '0') {
      const runs = ctx.size === 'tiny' ? 1 : 5;
      const s = await repeat((run) => skiffOnce(entry).then(keep(skiff, run)), { warmup: 0, runs });
      ctx.emit({ name, metric: 'start to /_ping median', unit: 'ms', value: round(s.median) });
      if (ctx.size !== 'tiny')
        emitRestart(
          ctx,
          await repeat((run) => skiffOnce(entry, { restart: true }).then(keep([], run)), { warmup: 0, runs }),
        );
    } else {
      const docker: Sample[] = [];
      const r = await interleave(
        (run) => skiffOnce(entry).then(keep(skiff, run)),
        (run) => dockerdOnce(ctx).then(keep(docker, run)),
        { warmup: 1, runs: 5 },
      );
      const label = 'dockerd 20.10 + containerd';
      for (const f of sideBySideFigures(name, label, r, 'start to /_ping')) ctx.emit(f);
      emitRestart(
        ctx,
        await repeat((run) => skiffOnce(entry, { restart: true }).then(keep([], run)), {
          warmup: 0,
          runs: 5,
        }),
      );
      const skiffMiB = median(skiff.map((s) => s.rssKiB)) / 1024;
      const dockerMiB = median(docker.map((s) => s.rssKiB)) / 1024;
      ctx.emit({
        name,
        metric: 'resident memory when ready (median)',
        unit: 'MiB',
        value: round(skiffMiB, 1),
        peer: label,
        peerValue: round(dockerMiB, 1),
        ratio: round(skiffMiB / dockerMiB),
      });
      return;
    }
    ctx.emit({
      name,
      metric: 'resident memory when ready (median)',
      unit: 'MiB',
      value: round(median(skiff.map((s) => s.rssKiB)) / 1024, 1),
    });
  },
};
