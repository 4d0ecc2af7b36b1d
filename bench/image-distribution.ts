// Registry-less distribution against the registry path, on a 3-host lab (a manager and
// two workers): an image of 8 layers of random data (200 MB, generated offline) that the
// manager holds goes to both workers
//   - skiff: `POST /skiff/images/distribute` (what `image push --to-cluster` does after
//     loading it): both workers fetch it at once from the manager's peer endpoint;
//   - registry: the manager pushes it to a docker-registry on its own host (fresh
//     repository each run, so every blob is uploaded), then both workers pull it at once.
// Interleaved (A B, B A, …), each run from workers without the image; goal: skiff ≤ 0.7×
// the registry path at the median. The workers reach the registry as 127.0.0.1:5000 (a
// node treats only loopback registries as plain-HTTP ones) through a TCP relay in their
// namespace. Then, with a dockerd (DOCKER_HOST, full size): the classic `docker build` of
// a busybox-from-scratch Dockerfile (FROM scratch, ARG, COPY, RUN, CMD) against the
// manager and against dockerd, interleaved.
// Each path's CPU time is printed too (the three daemons; for the registry path the registry
// and the relays as well): on a shared machine it says more than wall time.
// Run as root: npx tsx bench/image-distribution.ts [--runs N] [--layers N] [--layer-mb N]
// (SKIFF_BENCH_BIN=/other/checkout/bin/skiff.js: the nodes run that build, for a before/after)
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildImage, pushImage, REGISTRY_BINARY } from '../test/fixtures/index.js';
import { runCommand, waitFor } from '../test/lab/index.js';
import { type LabCluster, type LabClusterNode, startLabCluster } from '../test/support/lab-cluster.js';
import { type Figure, interleave, round } from './lib/index.js';

const tiny = process.env.BENCH_SIZE === 'tiny';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : Number.NaN;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

const runs = arg('--runs', tiny ? 1 : 3);
const layers = arg('--layers', tiny ? 2 : 8);
const layerMb = arg('--layer-mb', tiny ? 1 : 25);
const log = (m: string) => process.stderr.write(`${m}\n`);
const emit = (f: Figure) => process.stdout.write(`${JSON.stringify(f)}\n`);

/** A TCP relay from 127.0.0.1:5000 in a worker's namespace to the registry on the manager. */
const RELAY = `
const net = require('node:net');
const [to, port] = process.argv[1].split(':');
net.createServer((c) => { const u = net.connect(Number(port), to); c.pipe(u); u.pipe(c);
  c.on('error', () => u.destroy()); u.on('error', () => c.destroy()); }).listen(5000, '127.0.0.1');
`;

/** CPU seconds (user + system) a process has used so far; 0 when it is gone. */
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    // Fields after the command's closing parenthesis: state is [0], utime [11], stime [12].
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}
const CLOCK_TICKS = 100;

function daemonPid(n: LabClusterNode): number | undefined {
  const pid = Number(readFileSync(join(n.runDir, 'skiff.pid'), 'utf8').trim());
  return pid > 0 ? pid : undefined;
}

/** CPU seconds the processes use while `run` runs: in all, and each. */
async function cpuOf<T>(
  pids: () => (number | undefined)[],
  run: () => Promise<T>,
): Promise<[T, number, number[]]> {
  const before = pids().map(cpuSeconds);
  const out = await run();
  const each = pids().map((pid, i) => cpuSeconds(pid) - (before[i] ?? 0));
  return [out, each.reduce((a, b) => a + b, 0), each];
}

const split = (each: number[]) => each.map((s) => s.toFixed(1)).join(' + ');

async function ok(c: LabCluster, args: string[], on: LabClusterNode): Promise<string> {
  const r = await c.skiff(args, on);
  if (r.code !== 0) throw new Error(`skiff ${args.join(' ')} failed: ${r.stderr.slice(-500)}`);
  return r.stdout;
}

/** Removes the image and its blobs from the workers: the next run moves every byte again. */
async function clearWorkers(c: LabCluster): Promise<void> {
  for (const w of c.workers) {
    await ok(c, ['image', 'prune', '-a'], w);
    const du = await runCommand('du', ['-sk', join(w.stateDir, 'content')]);
    const kb = Number(du.stdout.split('\t')[0]);
    if (kb > 1024) throw new Error(`${w.host.name} still holds ${kb} KiB of blobs after a prune`);
  }
}

async function main(): Promise<void> {
  log(
    `load average before: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-distrib-'));
  // SKIFF_BENCH_BIN: the nodes run another build's bin/skiff.js (a before/after figure).
  const bin = process.env.SKIFF_BENCH_BIN;
  const c = await startLabCluster({ managers: 1, workers: 2, ...(bin ? { bin } : {}) });
  try {
    const manager = c.managers[0]!;
    // The registry on the manager's host, all interfaces.
    const storage = join(dir, 'registry');
    mkdirSync(storage);
    const config = join(dir, 'registry.yml');
    writeFileSync(
      config,
      JSON.stringify({
        version: 0.1,
        log: { level: 'error' },
        storage: { filesystem: { rootdirectory: storage }, delete: { enabled: true } },
        http: { addr: '0.0.0.0:5000' },
      }),
    );
    const registryProcs = [manager.host.spawn(REGISTRY_BINARY, ['serve', config])];
    for (const w of c.workers)
      registryProcs.push(w.host.spawn(process.execPath, ['-e', RELAY, `${manager.addr}:5000`]));
    // CPU of each path: the three daemons, and for the registry path the registry and the relays too.
    const daemons = () => c.nodes.map(daemonPid);
    const withRegistry = () => [...daemons(), ...registryProcs.map((p) => p.pid)];
    const cpu = { skiff: [] as number[], registry: [] as number[] };
    await waitFor(
      async () => (await fetch(`http://${manager.addr}:5000/v2/`).catch(() => undefined))?.ok === true,
      { what: 'the registry on the manager', timeoutMs: 30_000, intervalMs: 200 },
    );

    // The image, generated offline, onto the manager through the registry.
    const image = await buildImage({
      busybox: false,
      layers: Array.from({ length: layers }, (_, i) => ({
        entries: [{ type: 'file' as const, path: `layer${i}/data.bin`, content: randomBytes(layerMb << 20) }],
      })),
    });
    const mb = image.manifests[0]!.layers.reduce((n, l) => n + l.size, 0) / 1e6;
    await pushImage(image, `${manager.addr}:5000`, 'bench/seed:1');
    await image.remove();
    await ok(c, ['image', 'pull', '127.0.0.1:5000/bench/seed:1'], manager);
    const inspect = JSON.parse(await ok(c, ['image', 'inspect', '127.0.0.1:5000/bench/seed:1'], manager)) as {
      Manifest: { Digest: string };
    }[];
    const pinned = `127.0.0.1:5000/bench/seed:1@${inspect[0]!.Manifest.Digest}`;
    log(`image: ${layers} layers, ${mb.toFixed(1)} MB; ${runs} runs each`);

    const api = c.api(manager);
    const skiffRun = async () => {
      await clearWorkers(c);
      const t0 = performance.now();
      const failed: string[] = [];
      let fetched = 0;
      const [, used, each] = await cpuOf(daemons, () =>
        api.distributeImage({ ref: pinned, nodes: c.workers.map((w) => w.id) }, (m) => {
          if (m.status === 'failed') failed.push(`${m.node}: ${m.error}`);
          if (m.status === 'done' && m.fetched) fetched++;
        }),
      );
      const ms = performance.now() - t0;
      if (failed.length || fetched !== 2)
        throw new Error(`distribution: ${failed.join('; ') || `${fetched} fetched`}`);
      cpu.skiff.push(used);
      log(
        `skiff: ${ms.toFixed(0)} ms, ${used.toFixed(1)} CPU s (daemons: manager + workers ${split(each)}), load ${loadavg()[0]!.toFixed(1)}`,
      );
      return ms;
    };
    let repo = 0;
    const registryRun = async () => {
      await clearWorkers(c);
      const name = `127.0.0.1:5000/bench/run${repo++}:1`;
      await ok(c, ['image', 'tag', pinned, name], manager);
      const t0 = performance.now();
      const [, used, each] = await cpuOf(withRegistry, async () => {
        await ok(c, ['image', 'push', name], manager);
        await Promise.all(c.workers.map((w) => ok(c, ['image', 'pull', name], w)));
      });
      const ms = performance.now() - t0;
      await c.skiff(['image', 'rm', name], manager);
      cpu.registry.push(used);
      log(
        `registry: ${ms.toFixed(0)} ms, ${used.toFixed(1)} CPU s (daemons, registry, relays: ${split(each)}), load ${loadavg()[0]!.toFixed(1)}`,
      );
      return ms;
    };
    const r = await interleave(skiffRun, registryRun, { warmup: 0, runs });
    const name = `image-distribution ${layers}x${layerMb}MB to 2 nodes`;
    emit({
      name,
      metric: 'time (median)',
      unit: 'ms',
      value: round(r.a.median, 0),
      peer: 'docker-registry: push + 2 pulls',
      peerValue: round(r.b.median, 0),
      ratio: round(r.ratio),
    });
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    emit({
      name,
      metric: 'CPU time (median)',
      unit: 's',
      value: round(median(cpu.skiff), 2),
      peer: 'docker-registry: push + 2 pulls',
      peerValue: round(median(cpu.registry), 2),
      ratio: round(median(cpu.skiff) / median(cpu.registry)),
    });
    log(`skiff/registry ratio at the median: ${r.ratio.toFixed(2)} (goal <= 0.7)`);

    if (process.env.DOCKER_HOST) await buildFigures(manager, dir);
  } finally {
    log(
      `load average after: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
    await c.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `docker build` (classic builder) of one Dockerfile against the manager and against dockerd. */
async function buildFigures(manager: LabClusterNode, dir: string): Promise<void> {
  const ctx = join(dir, 'build');
  mkdirSync(ctx);
  copyFileSync('/bin/busybox', join(ctx, 'busybox'));
  writeFileSync(join(ctx, 'index.html'), 'hello\n');
  writeFileSync(
    join(ctx, 'Dockerfile'),
    [
      'FROM scratch',
      'ARG GREETING=hello',
      'COPY busybox /bin/busybox',
      'RUN ["/bin/busybox", "--install", "-s", "/bin"]',
      'COPY index.html /www/',
      'RUN echo "$GREETING" > /greeting',
      'CMD ["/bin/sh", "-c", "cat /greeting"]',
      '',
    ].join('\n'),
  );
  const docker = process.env.DOCKER ?? '/usr/local/bin/docker';
  let n = 0;
  const build = (host: string) => async () => {
    const t0 = performance.now();
    const r = await runCommand(docker, ['build', '-q', '--no-cache', '-t', `bench/build:${n++}`, ctx], {
      env: { PATH: process.env.PATH, HOME: dir, DOCKER_HOST: host, DOCKER_BUILDKIT: '0' },
      timeoutMs: 300_000,
    });
    if (r.code !== 0) throw new Error(`docker build against ${host}: ${r.stderr.slice(-500)}`);
    return performance.now() - t0;
  };
  const r = await interleave(
    build(`unix://${join(manager.runDir, 'skiff.sock')}`),
    build(process.env.DOCKER_HOST!),
    { warmup: 1, runs: tiny ? 1 : 5 },
  );
  emit({
    name: 'docker build (classic) FROM scratch + COPY + RUN',
    metric: 'time (median)',
    unit: 'ms',
    value: round(r.a.median, 0),
    peer: 'dockerd',
    peerValue: round(r.b.median, 0),
    ratio: round(r.ratio),
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
