// Stack deploy, real containers on one node: a 15-task stack (10 replicas of busybox
// httpd, 5 of a sleeper) from `stack deploy` to every task running, skiff's single-node
// daemon next to Docker Swarm (dockerd in swarm mode, the bench peer) on the same
// machine: the same compose file, the same images (imported from the same rootfs
// tarball), each deployed with its own CLI and watched through the same Docker API
// (GET /tasks every 20 ms). Runs alternate (Swarm, skiff, skiff, Swarm, …), each once
// the machine's CPU is quiet again after the previous run's clean-up.
//
//   npx tsx bench/stack-deploy.ts [--runs N]      # BENCH_SIZE=tiny: skiff only, one run
//   BENCH_DOCKER=0: skiff only. BENCH_TRACE=1: each run's wall-clock marks on stderr
//   (deploy start, all running, stack gone), to lay a run over the daemon's log
//   (BENCH_KEEP_LOGS=DIR keeps it) and see where a slow deploy's time went.
//
// Figures: deploy → all 15 running (median, p95) with Swarm's figure and the ratio
// (target <= 0.15), the deploy command's own time, and the CPU skiff's daemon and
// its containers' monitors spent until all ran (the machine has 2 cores: every task's
// start competes for them).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { busyboxTarball } from '../test/support/skiff-node/index.js';
import {
  type Figure,
  interleave,
  latencyFigures,
  repeat,
  sideBySideFigures,
  waitForQuietCpu,
} from './lib/index.js';
import {
  allTasks,
  type Engine,
  removeStack,
  skiffEntry,
  startSkiff,
  startSwarm,
  timeUntil,
} from './skiff-vs-swarm/index.js';

const tiny = process.env.BENCH_SIZE === 'tiny';
const { values: a } = parseArgs({ options: { runs: { type: 'string', default: tiny ? '1' : '5' } } });
const RUNS = Number(a.runs);
const STACK = 'benchstack';
const IMAGE = 'localhost/bench-app:v1';
const TASKS = 15;
const log = (m: string) => process.stderr.write(`${m}\n`);
const trace = (engine: Engine, mark: string, extra = '') => {
  // The monotonic clock too, to lay the run over a `perf record -k CLOCK_MONOTONIC`.
  if (process.env.BENCH_TRACE === '1')
    log(
      `trace ${engine.label}: ${mark} at ${Date.now()}${extra} (monotonic ${Number(process.hrtime.bigint() / 1000n) / 1000} ms)`,
    );
};

const COMPOSE = `services:
  web:
    image: ${IMAGE}
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    stop_grace_period: 1s
    deploy:
      replicas: 10
  sleeper:
    image: ${IMAGE}
    command: ["sleep", "100000"]
    stop_grace_period: 1s
    deploy:
      replicas: 5
`;

/** One deploy: the time until every task runs (the deploy command's time goes to `cliMs`). */
async function deployOnce(
  engine: Engine,
  dir: string,
  cliMs: number[],
  cpuMs: number[] = [],
): Promise<number> {
  // Each run starts on a quiet machine, whichever engine cleaned up before it.
  await waitForQuietCpu();
  const cpu0 = engine.cpuMs?.();
  const t0 = performance.now();
  trace(engine, 'deploy start');
  const deploy = engine.cli(engine.deployArgs(join(dir, 'stack.yaml'), STACK), dir).then((r) => {
    cliMs.push(performance.now() - t0);
    if (r.code !== 0) throw new Error(`${engine.label}: stack deploy: ${r.stderr.trim()}`);
  });
  const ms = await timeUntil(
    `${engine.label}: ${TASKS} tasks running`,
    t0,
    async () =>
      (await allTasks(engine.socket)).filter(
        (t) => t.DesiredState === 'running' && t.Status.State === 'running',
      ).length === TASKS,
    180_000,
  );
  const cpu = cpu0 === undefined ? undefined : (engine.cpuMs?.() ?? cpu0) - cpu0;
  if (cpu !== undefined) cpuMs.push(cpu);
  trace(
    engine,
    'all running',
    ` (${Math.round(ms)} ms${cpu === undefined ? '' : `, ${Math.round(cpu)} ms CPU`})`,
  );
  await deploy;
  await removeStack(engine, STACK, dir);
  trace(engine, 'stack gone');
  return ms;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-stack-deploy-'));
  const engines: Engine[] = [];
  try {
    writeFileSync(join(dir, 'stack.yaml'), COMPOSE);
    const tarball = await busyboxTarball(mkdtempSync(join(dir, 'img-')), 'v1\n');
    const images = new Map([[IMAGE, tarball]]);
    const skiff = await startSkiff(await skiffEntry(tiny, log), images);
    engines.push(skiff);
    const skiffCli: number[] = [];
    const skiffCpu: number[] = [];
    const figures: Figure[] = [];
    const what = `${TASKS} tasks (10 httpd + 5 sleep), deploy → all running`;
    if (tiny || process.env.BENCH_DOCKER === '0') {
      const s = await repeat(
        (run) => deployOnce(skiff, dir, run < 0 ? [] : skiffCli, run < 0 ? [] : skiffCpu),
        {
          warmup: 0,
          runs: RUNS,
        },
      );
      figures.push(...latencyFigures('stack-deploy', s, what));
      log(`stack-deploy: skiff ${s.ms.map(Math.round).join(', ')} ms`);
    } else {
      const swarm = await startSwarm(images, log);
      engines.push(swarm);
      const swarmCli: number[] = [];
      const r = await interleave(
        (run) => deployOnce(skiff, dir, run < 0 ? [] : skiffCli, run < 0 ? [] : skiffCpu),
        (run) => deployOnce(swarm, dir, run < 0 ? [] : swarmCli),
        { warmup: 1, runs: RUNS },
      );
      figures.push(...sideBySideFigures('stack-deploy', swarm.label, r, what));
      log(
        `stack-deploy: skiff ${r.a.ms.map(Math.round).join(', ')} ms; ${swarm.label} ${r.b.ms.map(Math.round).join(', ')} ms; ratio ${r.ratio.toFixed(3)} (target <= 0.15)`,
      );
      figures.push({
        name: 'stack-deploy',
        metric: 'swarm: deploy command exits, median',
        unit: 'ms',
        value: med(swarmCli),
      });
    }
    figures.push({
      name: 'stack-deploy',
      metric: 'skiff: deploy command exits, median',
      unit: 'ms',
      value: med(skiffCli),
    });
    figures.push({
      name: 'stack-deploy',
      metric: 'skiff: CPU of the daemon and its conmons, deploy → all running, median',
      unit: 'ms',
      value: med(skiffCpu),
    });
    for (const f of figures) process.stdout.write(`${JSON.stringify(f)}\n`);
  } finally {
    for (const e of engines.reverse())
      await e.stop().catch((err: unknown) => log(`${e.label}: stop: ${String(err)}`));
    rmSync(dir, { recursive: true, force: true });
  }
}

function med(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return Math.round(s[Math.floor(s.length / 2)] ?? Number.NaN);
}

await main();
