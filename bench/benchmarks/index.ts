// Every benchmark `npm run bench` knows, in run order. Standalone scripts in bench/
// (each owned by its component's engineer) are wrapped here with their tiny and full
// arguments; a script added later without an entry is still run, with no arguments and
// BENCH_SIZE in its environment.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Benchmark, REPO_ROOT, type ScriptBenchmarkOptions, scriptBenchmark } from '../lib/index.js';
import { daemonStartBenchmark } from './daemon-start.js';
import { withOptionalDocker } from './docker-env.js';
import { peersBenchmark } from './peers.js';

type Wrapped = Omit<ScriptBenchmarkOptions, 'script'> & { file: string; docker?: boolean };

const WRAPPED: Wrapped[] = [
  {
    name: 'container-start',
    file: 'container-start.ts',
    description: 'create-to-running latency: skiff (conmon+crun) vs crun alone (and docker run with dockerd)',
    args: { tiny: ['--runs', '2'], full: ['--runs', '50'] },
    docker: true,
  },
  {
    name: 'image-pull',
    file: 'image-pull.ts',
    description: 'pull from a loopback registry: skiff vs skopeo (and docker pull with dockerd)',
    args: { tiny: ['--runs', '1', '--layers', '1', '--layer-mb', '1'], full: [] },
    docker: true,
  },
  {
    name: 'image-distribution',
    file: 'image-distribution.ts',
    description:
      'a 200 MB, 8-layer image from a lab manager to 2 workers: skiff (registry-less, both at once) vs docker-registry push + 2 pulls (goal <= 0.7x); docker build of a FROM-scratch Dockerfile on skiff vs dockerd',
    // The script reads BENCH_SIZE itself (tiny: 2 x 1 MB, 1 run, no dockerd).
    args: { tiny: [], full: [] },
    docker: true,
  },
  {
    name: 'network',
    file: 'network.ts',
    description: 'network attach time and overlay vs bare-veth TCP throughput between lab hosts',
    args: { tiny: ['--attach-count', '2', '--seconds', '1', '--runs', '1'], full: [] },
  },
  {
    name: 'scheduler',
    file: 'scheduler.ts',
    // The script has one fixed size (1,000 nodes, 100,000 tasks; ~10 s).
    description: 'orchestrator + scheduler placement over 1,000 simulated nodes',
    args: { tiny: [], full: [] },
  },
  {
    name: 'compose-load',
    file: 'compose-load.ts',
    description: 'compose file loading',
    args: { tiny: [], full: [] },
  },
  {
    name: 'raft',
    file: 'raft.ts',
    description: 'raft commits/s and p50/p99 under 100 writers, next to a 3-member etcd (same loadKv)',
    // The script reads BENCH_SIZE itself.
    args: { tiny: [], full: [] },
  },
  {
    name: 'placement',
    file: 'placement.ts',
    description:
      '100,000 tasks of 1,000 services onto 1,000 FAKE agents through 3 raft managers, the leader loops and the dispatcher: tasks/s, heap per task and per node, a follower snapshotted and restarted, heartbeat CPU',
    // The script reads BENCH_SIZE itself (tiny: 20 nodes, 200 tasks).
    args: { tiny: [], full: [] },
  },
  {
    name: 'backup',
    file: 'backup.ts',
    description:
      'cluster backup and restore of 1,000 services / 10,000 tasks (made by the real leader loops over 100 FAKE agents): time and file size',
    // The script reads BENCH_SIZE itself (tiny: 20 services x 5 tasks).
    args: { tiny: [], full: [] },
  },
  {
    name: 'user-latency',
    file: 'user-latency.ts',
    description:
      'short skiff commands (service ls/ps/inspect, node ls, image ls, compose ps/config, stack deploy), start to exit: next to node -e 0 and the docker CLI on the same socket',
    // The script reads BENCH_SIZE itself (tiny: one round, under tsx).
    args: { tiny: [], full: [] },
  },
  {
    name: 'stack-deploy',
    file: 'stack-deploy.ts',
    description: '15-task stack (10 httpd + 5 sleep) deploy to all running: skiff next to Docker Swarm',
    // The script starts dockerd in swarm mode itself at full size (BENCH_DOCKER=0 skips it).
    args: { tiny: [], full: [] },
  },
  {
    name: 'rolling-update',
    file: 'rolling-update.ts',
    description:
      'rolling update of 10 replicas (parallelism 2, delay 0, grace 1s), stack deploy of a new tag and docker service update --force, stop-first and start-first, to completed and to all running: skiff next to Docker Swarm',
    args: { tiny: [], full: [] },
  },
  {
    name: 'docker-run',
    file: 'docker-run.ts',
    description:
      'docker run --rm busybox true (the docker CLI) against skiff, dockerd and podman (its Docker API service), in rounds: p50/p95 ms, paired ratios (goal <= 0.5x dockerd), idle daemon memory',
    // The script reads BENCH_SIZE itself and starts its peers at full size (tiny: skiff only, 2 runs).
    args: { tiny: [], full: [] },
  },
  {
    name: 'dashboard',
    file: 'dashboard.ts',
    description:
      'services page in headless Chromium over a FAKE node (1,000 services x 10 tasks): first usable, all rows, burst of 1,000 events, longest tasks',
    // The script reads BENCH_SIZE itself (tiny: 50 services x 10 tasks, 50 events, 1 run).
    args: { tiny: [], full: [] },
  },
  {
    name: 'metrics-scrape',
    file: 'metrics-scrape.ts',
    description:
      'GET /metrics of a node running 100 containers (cgroup and netns reads per scrape): p50/p95 ms, goal < 50',
    // The script reads BENCH_SIZE itself (tiny: 3 containers, 3 scrapes).
    args: { tiny: [], full: [] },
  },
];

/** The harness's own entry point; every other bench/*.ts is a standalone benchmark script. */
const HARNESS_FILES = new Set(['main.ts']);

function standaloneScripts(): string[] {
  return readdirSync(join(REPO_ROOT, 'bench'))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !HARNESS_FILES.has(f))
    .sort();
}

function wrap(w: Wrapped): Benchmark {
  const script = `bench/${w.file}`;
  const env = (ctx: Parameters<NonNullable<ScriptBenchmarkOptions['env']>>[0]) => ({ BENCH_SIZE: ctx.size });
  const inner = scriptBenchmark({ ...w, script, env });
  if (!w.docker) return inner;
  return {
    ...inner,
    run: (ctx) =>
      withOptionalDocker(ctx, (dockerEnv) =>
        scriptBenchmark({ ...w, script, env: (c) => ({ ...env(c), ...dockerEnv }) }).run(ctx),
      ),
  };
}

export function allBenchmarks(): Benchmark[] {
  const list: Benchmark[] = [peersBenchmark, daemonStartBenchmark];
  const known = new Set(WRAPPED.map((w) => w.file));
  for (const w of WRAPPED) if (existsSync(join(REPO_ROOT, 'bench', w.file))) list.push(wrap(w));
  for (const file of standaloneScripts()) {
    if (known.has(file)) continue;
    list.push(
      wrap({
        name: file.replace(/\.ts$/, ''),
        file,
        description: 'standalone script (no harness entry yet: run with no arguments)',
        args: { tiny: [], full: [] },
      }),
    );
  }
  return list;
}
