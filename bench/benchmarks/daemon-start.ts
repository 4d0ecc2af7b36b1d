import {
  type BenchContext,
  type Benchmark,
  benchDaemon,
  cpuMs,
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
  /** CPU time the daemon's processes had used when the API answered. */
  cpuMs: number;
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
    const cpu = cpuMs(daemon.dir);
    return { readyMs, cpuMs: cpu, rssKiB: residentKiB(daemon.dir).kib };
  } finally {
    await daemon.remove();
  }
}

/** `restart`: starts and stops dockerd once first, then measures a start over its own state. */
async function dockerdOnce(ctx: BenchContext, opts: { restart?: boolean } = {}): Promise<Sample> {
  const d = await startDockerd({ log: (m) => ctx.log(m) });
  try {
    const ready = opts.restart ? await d.restart() : { readyMs: d.readyMs, cpuMs: d.readyCpuMs };
    return { ...ready, rssKiB: residentKiB(d.stateDir).kib };
  } finally {
    await d.stop();
  }
}

const RESTART = 'restart over existing state to /_ping';

export const daemonStartBenchmark: Benchmark = {
  name: 'daemon-start',
  description:
    'node daemon start to API ready, fresh and over its own state, its CPU time and memory: skiff single-node daemon vs dockerd (interleaved)',
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
      const cpu = median(skiff.map((x) => x.cpuMs));
      ctx.emit({ name, metric: 'CPU time to /_ping (median)', unit: 'ms', value: round(cpu) });
      if (ctx.size !== 'tiny') {
        const r = await repeat((run) => skiffOnce(entry, { restart: true }).then(keep([], run)), {
          warmup: 0,
          runs,
        });
        ctx.emit({ name, metric: `${RESTART} median`, unit: 'ms', value: round(r.median) });
      }
    } else {
      const docker: Sample[] = [];
      const r = await interleave(
        (run) => skiffOnce(entry).then(keep(skiff, run)),
        (run) => dockerdOnce(ctx).then(keep(docker, run)),
        { warmup: 1, runs: 5 },
      );
      const label = 'dockerd 20.10 + containerd';
      for (const f of sideBySideFigures(name, label, r, 'start to /_ping')) ctx.emit(f);
      // Each over its own state: skiff's raft log and keys, dockerd's data root.
      const skiffRestarts: Sample[] = [];
      const dockerRestarts: Sample[] = [];
      const restarts = await interleave(
        (run) => skiffOnce(entry, { restart: true }).then(keep(skiffRestarts, run)),
        (run) => dockerdOnce(ctx, { restart: true }).then(keep(dockerRestarts, run)),
        { warmup: 0, runs: 5 },
      );
      for (const f of sideBySideFigures(name, label, restarts, RESTART)) ctx.emit(f);
      // What other work on the machine disturbs least (a start waits for the CPUs, its CPU time does not).
      const cpu = (metric: string, a: Sample[], b: Sample[]) => {
        const value = median(a.map((x) => x.cpuMs));
        const peerValue = median(b.map((x) => x.cpuMs));
        ctx.emit({
          name,
          metric,
          unit: 'ms',
          value: round(value),
          peer: label,
          peerValue: round(peerValue),
          ratio: round(value / peerValue),
        });
      };
      cpu('CPU time to /_ping (median)', skiff, docker);
      cpu('CPU time to /_ping on restart (median)', skiffRestarts, dockerRestarts);
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
