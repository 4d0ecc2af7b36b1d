// `user-latency`: what a user waits for a short skiff command, start to exit, side by side
// in one run with `node -e 0` (Node's own start, the floor of any skiff command) and the
// docker CLI (/usr/local/bin/docker) asking the same skiff socket. Commands run
// interleaved, round by round (node -e 0, docker …, skiff …), against a single-node skiff
// daemon of the bench's own with a stack of two services at 0 replicas (no containers:
// this measures the command, not the node). NODE_EXTRA_CA_CERTS is unset for every
// command (reading a CA bundle at start costs Node tens of ms).
//
//   npx tsx bench/user-latency.ts [--runs N]     # BENCH_SIZE=tiny: one round, under tsx
//
// Figures: each command's median wall ms; its peer is the docker CLI's same command where
// there is one, else `node -e 0`; and each command's start-up above `node -e 0`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { benchDaemon, median, round } from './lib/index.js';
import { skiffEntry } from './skiff-vs-swarm/index.js';

const tiny = process.env.BENCH_SIZE === 'tiny';
const { values: a } = parseArgs({ options: { runs: { type: 'string', default: tiny ? '1' : '15' } } });
const RUNS = Number(a.runs);
const DOCKER = '/usr/local/bin/docker';
const STACK = 'ul';
const COMPOSE = `services:
  web:
    image: busybox:latest
    command: ["httpd", "-f", "-p", "8080"]
    deploy:
      replicas: 0
  sleeper:
    image: busybox:latest
    command: ["sleep", "100000"]
    deploy:
      replicas: 0
`;
const log = (m: string) => process.stderr.write(`${m}\n`);

interface Measured {
  label: string;
  argv: string[];
  /** The docker CLI's label for the same command, its peer. */
  peer?: string;
  ms: number[];
}

const entry = await skiffEntry(tiny, log);
const dir = mkdtempSync(join(tmpdir(), 'skiff-bench-user-latency-'));
const daemon = await benchDaemon(entry);
try {
  await daemon.start();
  const { NODE_EXTRA_CA_CERTS: _ca, SKIFF_HOST: _host, ...base } = process.env;
  const env = { ...base, SKIFF_HOST: `unix://${daemon.socket}` };
  const run = (argv: string[]) => {
    const t0 = performance.now();
    const r = spawnSync(argv[0]!, argv.slice(1), { cwd: dir, env, stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = performance.now() - t0;
    if (r.status !== 0) throw new Error(`${argv.join(' ')}: exit ${r.status}: ${String(r.stderr).trim()}`);
    return ms;
  };
  const skiff = (...args: string[]) => [process.execPath, ...entry, ...args];
  writeFileSync(join(dir, 'compose.yaml'), COMPOSE);
  run(skiff('stack', 'deploy', '-c', 'compose.yaml', STACK));

  const docker = (label: string, ...args: string[]): Measured[] =>
    existsSync(DOCKER) ? [{ label, argv: [DOCKER, '-H', `unix://${daemon.socket}`, ...args], ms: [] }] : [];
  const cmds: Measured[] = [
    { label: 'node -e 0', argv: [process.execPath, '-e', '0'], ms: [] },
    ...docker('docker service ls', 'service', 'ls'),
    ...docker('docker service ps', 'service', 'ps', `${STACK}_web`),
    ...docker('docker service inspect', 'service', 'inspect', `${STACK}_web`),
    ...docker('docker node ls', 'node', 'ls'),
    { label: 'skiff version', argv: skiff('version'), ms: [] },
    { label: 'skiff service ls', argv: skiff('service', 'ls'), peer: 'docker service ls', ms: [] },
    {
      label: 'skiff service ps',
      argv: skiff('service', 'ps', `${STACK}_web`),
      peer: 'docker service ps',
      ms: [],
    },
    {
      label: 'skiff service inspect',
      argv: skiff('service', 'inspect', `${STACK}_web`),
      peer: 'docker service inspect',
      ms: [],
    },
    { label: 'skiff node ls', argv: skiff('node', 'ls'), peer: 'docker node ls', ms: [] },
    { label: 'skiff image ls', argv: skiff('image', 'ls'), ms: [] },
    { label: 'skiff compose ps', argv: skiff('compose', 'ps'), ms: [] },
    { label: 'skiff compose config -q', argv: skiff('compose', 'config', '-q'), ms: [] },
    {
      label: 'skiff stack deploy (unchanged stack)',
      argv: skiff('stack', 'deploy', '-c', 'compose.yaml', STACK),
      ms: [],
    },
  ];
  const load = loadavg()[0] ?? 0;
  log(`user-latency: ${RUNS} rounds, load average ${load.toFixed(2)}`);
  // One warm-up round (page cache), then the measured ones.
  for (const c of cmds) run(c.argv);
  for (let i = 0; i < RUNS; i++) for (const c of cmds) c.ms.push(run(c.argv));

  const emit = (f: Record<string, unknown>) =>
    process.stdout.write(`${JSON.stringify({ name: 'user-latency', ...f })}\n`);
  emit({ metric: 'load average (1 min) at start', unit: 'load', value: round(load) });
  const nodeMs = median(cmds[0]!.ms);
  for (const c of cmds) {
    const value = median(c.ms);
    const peer = c.peer ? cmds.find((p) => p.label === c.peer) : c === cmds[0] ? undefined : cmds[0];
    emit({
      metric: `${c.label}, median`,
      unit: 'ms',
      value: round(value),
      ...(peer
        ? { peer: peer.label, peerValue: round(median(peer.ms)), ratio: round(value / median(peer.ms)) }
        : {}),
    });
    if (c.argv[0] === process.execPath && c !== cmds[0])
      emit({ metric: `${c.label}: start above node -e 0, median`, unit: 'ms', value: round(value - nodeMs) });
  }
} finally {
  await daemon.remove();
  rmSync(dir, { recursive: true, force: true });
}
