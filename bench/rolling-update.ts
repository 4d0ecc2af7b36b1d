// Rolling update, real containers on one node: 10 replicas of busybox httpd updated
// from v1 to v2 with parallelism 2, delay 0, stop_grace_period 1s (order stop-first,
// the default), skiff's single-node daemon next to Docker Swarm (dockerd in swarm mode,
// the bench peer) on the same machine: the same compose file and images, each engine's
// own `stack deploy`, watched through the same Docker API. The clock runs from the
// second `stack deploy` (the new image tag) until the service reports its update
// completed and 10 tasks of v2 run. Runs alternate between the engines.
//
//   npx tsx bench/rolling-update.ts [--runs N]      # BENCH_SIZE=tiny: skiff only, one run
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { busyboxTarball } from '../test/support/skiff-node/index.js';
import { type Figure, interleave, latencyFigures, repeat, sideBySideFigures } from './lib/index.js';
import {
  allServices,
  allTasks,
  type Engine,
  removeStack,
  skiffEntry,
  startSkiff,
  startSwarm,
  timeUntil,
} from './skiff-vs-swarm/index.js';

const tiny = process.env.BENCH_SIZE === 'tiny';
const { values: a } = parseArgs({ options: { runs: { type: 'string', default: tiny ? '1' : '3' } } });
const RUNS = Number(a.runs);
const STACK = 'benchroll';
const REPLICAS = 10;
const image = (v: string) => `localhost/bench-roll:${v}`;
const log = (m: string) => process.stderr.write(`${m}\n`);

const compose = (v: string) => `services:
  web:
    image: ${image(v)}
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    stop_grace_period: 1s
    deploy:
      replicas: ${REPLICAS}
      update_config:
        parallelism: 2
        delay: 0s
`;

async function converged(engine: Engine, v: string): Promise<boolean> {
  const [services, tasks] = await Promise.all([allServices(engine.socket), allTasks(engine.socket)]);
  if (services[0]?.UpdateStatus?.State !== 'completed') return false;
  const running = tasks.filter(
    (t) =>
      t.DesiredState === 'running' &&
      t.Status.State === 'running' &&
      t.Spec.ContainerSpec?.Image?.startsWith(image(v)),
  );
  return running.length === REPLICAS;
}

/** Deploys v1 and waits for it, then times the update to v2. */
async function updateOnce(engine: Engine, dir: string): Promise<number> {
  const file = (v: string) => {
    const f = join(dir, `roll-${v}.yaml`);
    writeFileSync(f, compose(v));
    return f;
  };
  const first = await engine.cli(engine.deployArgs(file('v1'), STACK), dir);
  if (first.code !== 0) throw new Error(`${engine.label}: stack deploy v1: ${first.stderr.trim()}`);
  await timeUntil(
    `${engine.label}: v1 running`,
    performance.now(),
    async () =>
      (await allTasks(engine.socket)).filter(
        (t) => t.DesiredState === 'running' && t.Status.State === 'running',
      ).length === REPLICAS,
    180_000,
  );
  const t0 = performance.now();
  const second = await engine.cli(engine.deployArgs(file('v2'), STACK), dir);
  if (second.code !== 0) throw new Error(`${engine.label}: stack deploy v2: ${second.stderr.trim()}`);
  const ms = await timeUntil(
    `${engine.label}: update to v2 completed`,
    t0,
    () => converged(engine, 'v2'),
    300_000,
  );
  await removeStack(engine, STACK, dir);
  return ms;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-rolling-'));
  const engines: Engine[] = [];
  try {
    const images = new Map<string, string>();
    for (const v of ['v1', 'v2'])
      images.set(image(v), await busyboxTarball(mkdtempSync(join(dir, `img-${v}-`)), `${v}\n`));
    const skiff = await startSkiff(await skiffEntry(tiny, log), images);
    engines.push(skiff);
    const figures: Figure[] = [];
    const what = `${REPLICAS} replicas, parallelism 2, delay 0, stop_grace_period 1s: update → converged`;
    if (tiny || process.env.BENCH_DOCKER === '0') {
      const s = await repeat(() => updateOnce(skiff, dir), { warmup: 0, runs: RUNS });
      figures.push(...latencyFigures('rolling-update', s, what));
    } else {
      const swarm = await startSwarm(images, log);
      engines.push(swarm);
      const r = await interleave(
        () => updateOnce(skiff, dir),
        () => updateOnce(swarm, dir),
        { warmup: 0, runs: RUNS },
      );
      figures.push(...sideBySideFigures('rolling-update', swarm.label, r, what));
      log(
        `rolling-update: skiff ${r.a.ms.map(Math.round).join(', ')} ms; ${swarm.label} ${r.b.ms.map(Math.round).join(', ')} ms; ratio ${r.ratio.toFixed(3)}`,
      );
    }
    for (const f of figures) process.stdout.write(`${JSON.stringify(f)}\n`);
  } finally {
    for (const e of engines.reverse())
      await e.stop().catch((err: unknown) => log(`${e.label}: stop: ${String(err)}`));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
