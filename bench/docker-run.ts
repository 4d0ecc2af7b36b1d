// `docker run --rm busybox true`, start to exit of the docker CLI (/usr/local/bin/docker),
// against a skiff single-node daemon, dockerd (Debian's docker.io, crun runtime) and
// podman (Debian's podman, `podman system service` serving the Docker-compatible API,
// crun), the same CLI and the same command for all three, each engine on its default
// bridge network. The image is one busybox rootfs tarball made here and imported into
// each engine (`skiff image import`, `docker import`). Runs go in rounds (skiff, dockerd, podman; the first of each round
// rotating), so load on the machine weighs on all alike; ratios are taken round by round,
// then their median. Then each engine's resident memory, idle after the runs (skiff's
// daemon; dockerd with its containerd; podman's service), summed over the processes
// that name its state directory.
//
//   npx tsx bench/docker-run.ts [--runs N]      # BENCH_SIZE=tiny: 2 runs, skiff only
//   BENCH_DOCKER=0 / BENCH_PODMAN=0 leave a peer out; at tiny size BENCH_DOCKER=1 /
//   BENCH_PODMAN=1 bring it in (installing docker.io takes longer than the smoke test).
//
// Figures: median and p95 ms per engine, skiff's with each peer's and the paired ratio
// (target: skiff <= 0.5x dockerd at the median), and resident MiB per engine.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { busyboxTarball } from '../test/support/skiff-node/index.js';
import {
  type Figure,
  interleaveAll,
  latencyFigures,
  pairedRatio,
  residentKiB,
  round,
  runCommand,
  type Samples,
  sideBySideFigures,
} from './lib/index.js';
import { startDockerd, startPodman } from './peers/index.js';
import { skiffEntry, startSkiff } from './skiff-vs-swarm/index.js';

const tiny = process.env.BENCH_SIZE === 'tiny';
const { values: a } = parseArgs({
  options: {
    runs: { type: 'string', default: tiny ? '2' : '40' },
    warmup: { type: 'string', default: tiny ? '1' : '3' },
  },
});
const RUNS = Number(a.runs);
const WARMUP = Number(a.warmup);
const DOCKER = '/usr/local/bin/docker';
const IMAGE = 'busybox:latest';
const NAME = 'docker-run';
const WHAT = 'docker run --rm busybox true,';
const log = (m: string) => process.stderr.write(`${m}\n`);

/** A peer runs at full size unless BENCH_<X>=0, at tiny size only when BENCH_<X>=1. */
function wanted(variable: string): boolean {
  const v = process.env[variable];
  return tiny ? v === '1' : v !== '0';
}

interface Target {
  label: string;
  host: string;
  /** Every process of the engine names this on its command line. */
  stateDir: string;
  stop(): Promise<void>;
}

async function docker(target: Target, args: readonly string[]): Promise<string> {
  const r = await runCommand(DOCKER, ['-H', target.host, ...args], { timeoutMs: 120_000 });
  if (r.code !== 0)
    throw new Error(`${target.label}: docker ${args.join(' ')}: exit ${r.code}: ${r.stderr.trim()}`);
  return r.stdout;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-docker-run-'));
  const targets: Target[] = [];
  try {
    const tarball = await busyboxTarball(dir, 'docker-run\n');
    // skiff's through `skiff image import` (startSkiff's way), the peers' through `docker import`.
    const skiff = await startSkiff(await skiffEntry(tiny, log), new Map([[IMAGE, tarball]]));
    const skiffState = skiff.socket.replace(/\/skiff\.sock$/, '');
    targets.push({ label: 'skiff', host: `unix://${skiff.socket}`, stateDir: skiffState, stop: skiff.stop });
    if (wanted('BENCH_DOCKER')) {
      const d = await startDockerd({ log });
      targets.push({ label: d.label, host: d.host, stateDir: d.stateDir, stop: d.stop });
    }
    if (wanted('BENCH_PODMAN')) {
      const p = await startPodman({ log });
      targets.push({ label: p.label, host: p.host, stateDir: p.stateDir, stop: p.stop });
    }
    for (const t of targets.slice(1)) await docker(t, ['import', tarball, IMAGE]);

    const load = loadavg()[0] ?? 0;
    log(
      `${NAME}: ${targets.map((t) => t.label).join(', ')}; ${WARMUP} warm-up and ${RUNS} runs each, load average ${load.toFixed(2)}`,
    );
    const samples = await interleaveAll(
      targets.map((t) => async () => {
        const out = await docker(t, ['run', '--rm', IMAGE, 'true']);
        if (out.trim() !== '')
          throw new Error(`${t.label}: docker run --rm ${IMAGE} true printed ${out.trim()}`);
      }),
      { warmup: WARMUP, runs: RUNS },
    );

    const figures: Figure[] = [
      { name: NAME, metric: 'load average (1 min) at start', unit: 'load', value: round(load) },
    ];
    const mine = samples[0]!;
    if (targets.length === 1) figures.push(...latencyFigures(NAME, mine, WHAT));
    for (let i = 1; i < targets.length; i++) {
      const theirs: Samples = samples[i]!;
      const r = { a: mine, b: theirs, ratio: pairedRatio(mine.ms, theirs.ms) };
      figures.push(...sideBySideFigures(NAME, targets[i]!.label, r, WHAT));
      log(
        `${NAME}: skiff median ${round(mine.median)} ms, ${targets[i]!.label} ${round(theirs.median)} ms, paired ratio ${round(r.ratio)}${i === 1 && targets[1]!.label.startsWith('dockerd') ? ' (target <= 0.5)' : ''}`,
      );
    }
    // Idle memory after the runs, every process naming the engine's state directory.
    const memory = targets.map((t) => ({ t, ...residentKiB(t.stateDir) }));
    const mib = (kib: number) => round(kib / 1024, 1);
    const [own, ...peers] = memory;
    const metric = (m: { processes: number }) => `resident memory after the runs (${m.processes} processes)`;
    if (peers.length === 0)
      figures.push({ name: NAME, metric: metric(own!), unit: 'MiB', value: mib(own!.kib) });
    for (const p of peers) {
      figures.push({
        name: NAME,
        metric: metric(own!),
        unit: 'MiB',
        value: mib(own!.kib),
        peer: `${p.t.label} (${p.processes} processes)`,
        peerValue: mib(p.kib),
        ratio: round(own!.kib / p.kib),
      });
    }
    for (const f of figures) process.stdout.write(`${JSON.stringify(f)}\n`);
  } finally {
    for (const t of targets.reverse())
      await t.stop().catch((err: unknown) => log(`${t.label}: stop: ${String(err)}`));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
