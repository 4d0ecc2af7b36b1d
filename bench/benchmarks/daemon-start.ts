import {
  type BenchContext,
  type Benchmark,
  benchDaemon,
  interleave,
  median,
  repeat,
  residentKiB,
  round,
  sideBySideFigures,
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
  const daemon = await benchDaemon(entry);
  try {
    if (opts.restart) {
      await daemon.start();
      await daemon.stopProcess();
    }
    const readyMs = await daemon.start();
    return { readyMs, rssKiB: residentKiB(daemon.dir).kib };
  } finally {
    await daemon.remove();
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
