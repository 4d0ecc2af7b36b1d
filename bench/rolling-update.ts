// Rolling update, real containers on one node: 10 replicas of busybox httpd updated
// with parallelism 2, delay 0, stop_grace_period 1s, skiff's single-node daemon next to
// Docker Swarm (dockerd in swarm mode, the bench peer) on the same machine: the same
// compose file and images, watched through the same Docker API. Runs alternate between
// the engines. Four scenarios, each stop-first (the default) and start-first:
//
// - `deploy`: each engine's own `stack deploy` of a new image tag (v1 → v2), polled
//   every 20 ms;
// - `force`: `docker service update --force --detach` of the service, the docker CLI
//   against both engines, UpdateStatus polled every 50 ms.
//
// Two figures each: from the command to the update's UpdateStatus `completed` and 10
// updated tasks running (which includes the `monitor` period after the last batch, 5 s
// by default in both engines), and to the 10 updated tasks running (the batches alone:
// their floor is 5 × (stop grace + start)).
//
//   npx tsx bench/rolling-update.ts [--runs N] [--how deploy,force] [--order stop-first,start-first]
//   BENCH_SIZE=tiny: skiff only, one run of `deploy` stop-first
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Service, Task } from '../lib/index.js';
import { busyboxTarball } from '../test/support/skiff-node/index.js';
import {
  type Figure,
  interleave,
  latencyFigures,
  median,
  pairedRatio,
  repeat,
  round,
  runCommand,
  sideBySideFigures,
} from './lib/index.js';
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
const { values: a } = parseArgs({
  options: {
    runs: { type: 'string', default: tiny ? '1' : '3' },
    how: { type: 'string', default: tiny ? 'deploy' : 'deploy,force' },
    order: { type: 'string', default: tiny ? 'stop-first' : 'stop-first,start-first' },
  },
});
const RUNS = Number(a.runs);
const STACK = 'benchroll';
const SERVICE = `${STACK}_web`;
const REPLICAS = 10;
const image = (v: string) => `localhost/bench-roll:${v}`;
const log = (m: string) => process.stderr.write(`${m}\n`);

type How = 'deploy' | 'force';
type Order = 'stop-first' | 'start-first';
const hows = (a.how ?? '').split(',').filter((h): h is How => h === 'deploy' || h === 'force');
const orders = (a.order ?? '')
  .split(',')
  .filter((o): o is Order => o === 'stop-first' || o === 'start-first');

const compose = (v: string, order: Order) => `services:
  web:
    image: ${image(v)}
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    stop_grace_period: 1s
    deploy:
      replicas: ${REPLICAS}
      update_config:
        parallelism: 2
        delay: 0s
        order: ${order}
`;

/** Whether the task runs the service's spec as updated: the new image, or the forced update's counter. */
function updated(t: Task, service: Service, how: How): boolean {
  if (how === 'deploy') return t.Spec.ContainerSpec?.Image?.startsWith(image('v2')) === true;
  return (t.Spec.ForceUpdate ?? 0) === (service.Spec.TaskTemplate?.ForceUpdate ?? 0);
}

async function progress(engine: Engine, how: How): Promise<{ running: boolean; completed: boolean }> {
  const [services, tasks] = await Promise.all([allServices(engine.socket), allTasks(engine.socket)]);
  const service = services.find((s) => s.Spec.Name === SERVICE);
  if (!service) return { running: false, completed: false };
  const running =
    tasks.filter(
      (t) =>
        t.ServiceID === service.ID &&
        t.DesiredState === 'running' &&
        t.Status.State === 'running' &&
        updated(t, service, how),
    ).length === REPLICAS;
  return { running, completed: running && service.UpdateStatus?.State === 'completed' };
}

/** The docker CLI against the engine's socket (skiff's or dockerd's). */
const docker = (engine: Engine, args: string[], cwd: string) =>
  runCommand('docker', ['-H', `unix://${engine.socket}`, ...args], { cwd, timeoutMs: 120_000 });

/**
 * Deploys v1 and waits for it, then times the update: ms to completed (returned) and
 * to all updated tasks running (`running`).
 */
async function updateOnce(
  engine: Engine,
  dir: string,
  how: How,
  order: Order,
  running: number[],
): Promise<number> {
  const file = (v: string) => {
    const f = join(dir, `roll-${v}-${order}.yaml`);
    writeFileSync(f, compose(v, order));
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
  const second =
    how === 'deploy'
      ? await engine.cli(engine.deployArgs(file('v2'), STACK), dir)
      : await docker(engine, ['service', 'update', '--force', '--detach', SERVICE], dir);
  if (second.code !== 0) throw new Error(`${engine.label}: ${how} update: ${second.stderr.trim()}`);
  let runningMs: number | undefined;
  const ms = await timeUntil(
    `${engine.label}: ${how} update completed`,
    t0,
    async () => {
      const p = await progress(engine, how);
      if (p.running) runningMs ??= performance.now() - t0;
      return p.completed;
    },
    300_000,
    how === 'force' ? 50 : 20,
  );
  running.push(runningMs ?? ms);
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
    const alone = tiny || process.env.BENCH_DOCKER === '0';
    const swarm = alone ? undefined : await startSwarm(images, log);
    if (swarm) engines.push(swarm);
    const figures: Figure[] = [];
    for (const how of hows) {
      for (const order of orders) {
        const what = `${REPLICAS} replicas, parallelism 2, delay 0, stop_grace_period 1s, ${order}, ${
          how === 'deploy' ? 'stack deploy of a new tag' : 'docker service update --force'
        }: update →`;
        const ra: number[] = [];
        const rb: number[] = [];
        if (!swarm) {
          const s = await repeat(() => updateOnce(skiff, dir, how, order, ra), { warmup: 0, runs: RUNS });
          figures.push(...latencyFigures('rolling-update', s, `${what} completed`));
          figures.push({
            name: 'rolling-update',
            metric: `${what} all running median`,
            unit: 'ms',
            value: round(median(ra)),
          });
          continue;
        }
        const r = await interleave(
          () => updateOnce(skiff, dir, how, order, ra),
          () => updateOnce(swarm, dir, how, order, rb),
          { warmup: 0, runs: RUNS },
        );
        figures.push(...sideBySideFigures('rolling-update', swarm.label, r, `${what} completed`));
        figures.push({
          name: 'rolling-update',
          metric: `${what} all running median`,
          unit: 'ms',
          value: round(median(ra)),
          peer: swarm.label,
          peerValue: round(median(rb)),
          ratio: round(pairedRatio(ra, rb)),
        });
        log(
          `rolling-update ${how} ${order}: completed skiff ${r.a.ms.map(Math.round).join(', ')} ms; ${swarm.label} ${r.b.ms.map(Math.round).join(', ')} ms; ratio ${r.ratio.toFixed(3)}; all running skiff ${ra.map(Math.round).join(', ')} ms, swarm ${rb.map(Math.round).join(', ')} ms`,
        );
      }
    }
    for (const f of figures) process.stdout.write(`${JSON.stringify(f)}\n`);
  } finally {
    for (const e of engines.reverse())
      await e.stop().catch((err: unknown) => log(`${e.label}: stop: ${String(err)}`));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
