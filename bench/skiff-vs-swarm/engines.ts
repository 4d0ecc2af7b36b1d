// The two engines the stack benchmarks drive the same way: a fresh single-node skiff
// daemon (its own state root and run dir, as test/support/skiff-node's testNode) and dockerd in
// swarm mode (the harness's peer). Both are deployed to with their own CLI from the
// same compose file and watched through the same Docker Engine API (/tasks, /services)
// on their unix sockets, so the clock stops by the same rule for both.
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Service, Task } from '../../lib/index.js';
import { removeNodeLeftovers } from '../../test/support/skiff-node/index.js';
import { type CommandResult, onInterrupt, REPO_ROOT, runChecked, runCommand, waitFor } from '../lib/index.js';
import { type DockerdPeer, startDockerd } from '../peers/index.js';

export interface Engine {
  label: string;
  /** The engine's own CLI (`skiff …` or `docker …`) against this engine. */
  cli(args: readonly string[], cwd: string): Promise<CommandResult>;
  /** `stack deploy` as the engine's CLI spells it for a local, unpublished image. */
  deployArgs(file: string, stack: string): string[];
  socket: string;
  stop(): Promise<void>;
  /**
   * CPU time (user + system, ms) the engine has used so far: its processes and the
   * children they reaped, and its containers' monitors. Skiff only: what a deploy costs
   * on a 2-core machine where every task's start competes for the same cores.
   */
  cpuMs?(): number;
}

/** GET on the engine's Docker-compatible API. */
export function apiGet<T>(socket: string, path: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, method: 'GET', timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 500) >= 300) reject(new Error(`GET ${path}: ${res.statusCode} ${body}`));
        else resolve(JSON.parse(body) as T);
      });
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.end();
  });
}

/** Every task the engine knows (each engine here is private to the benchmark). */
export function allTasks(socket: string): Promise<Task[]> {
  return apiGet<Task[]>(socket, '/tasks');
}

export function allServices(socket: string): Promise<Service[]> {
  return apiGet<Service[]>(socket, '/services');
}

/** Polls `cond` every `intervalMs` until it holds; the time it first held, in ms since `t0`. */
export async function timeUntil(
  what: string,
  t0: number,
  cond: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 20,
): Promise<number> {
  await waitFor(cond, { what, timeoutMs: Math.max(0, t0 + timeoutMs - performance.now()), intervalMs });
  return performance.now() - t0;
}

const BUILD_DIR = join(REPO_ROOT, 'bench', 'results', 'skiff-build');

/**
 * `node …` arguments that run the skiff CLI: the bundle as installed (compiled here
 * without type checking, then bundled as `npm run build:bundle` does), or under tsx at
 * tiny size to save the build.
 */
export async function skiffEntry(tiny: boolean, log: (m: string) => void): Promise<string[]> {
  // tsx by its resolved URL: a bench may run the CLI from another working directory.
  if (tiny) return ['--import', import.meta.resolve('tsx'), join(REPO_ROOT, 'cli', 'main.ts')];
  const main = join(BUILD_DIR, 'skiff', 'main.js');
  // BENCH_REUSE_BUILD=1: the sources did not change since the last build (repeated runs while profiling).
  if (process.env.BENCH_REUSE_BUILD === '1' && existsSync(main)) return [main];
  log('compiling skiff (tsc --noCheck) into bench/results/skiff-build');
  await runChecked(
    process.execPath,
    [
      join(REPO_ROOT, 'node_modules/typescript/bin/tsc'),
      '-p',
      'tsconfig.build.json',
      '--outDir',
      BUILD_DIR,
      '--noCheck',
      '--sourceMap',
      'false',
    ],
    { cwd: REPO_ROOT, timeoutMs: 300_000 },
  );
  rmSync(join(BUILD_DIR, 'skiff'), { recursive: true, force: true });
  await runChecked(process.execPath, [join(REPO_ROOT, 'scripts', 'bundle-cli.mjs'), BUILD_DIR], {
    cwd: REPO_ROOT,
    timeoutMs: 120_000,
  });
  return [main];
}

/** A fresh skiff daemon with the given image tarballs imported (tag → rootfs tarball). */
export async function startSkiff(entry: string[], images: Map<string, string>): Promise<Engine> {
  const base = mkdtempSync(join(tmpdir(), 'skiff-bench-stack-'));
  const stateRoot = join(base, 'state');
  // Unix socket paths are limited to 108 bytes: keep the run directory short.
  const runDir = mkdtempSync('/run/skb-');
  const { SKIFF_HOST: _ignored, ...inherited } = process.env;
  const env = { ...inherited, SKIFF_STATE_ROOT: stateRoot, SKIFF_RUN_DIR: runDir };
  // From the repository (a daemon started from sources finds tsx there); compose files go by absolute path.
  const cli = (args: readonly string[], _cwd: string) =>
    runCommand(process.execPath, [...entry, ...args], { env, cwd: REPO_ROOT, timeoutMs: 300_000 });
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      await cli(['daemon', 'stop'], base);
      // BENCH_KEEP_LOGS=DIR keeps the daemon's log, for finding out where the time went.
      const keep = process.env.BENCH_KEEP_LOGS;
      if (keep) cpSync(join(stateRoot, 'local', 'daemon.log'), join(keep, `skiff-daemon-${Date.now()}.log`));
      await removeNodeLeftovers(stateRoot, runDir);
      rmSync(base, { recursive: true, force: true });
      rmSync(runDir, { recursive: true, force: true });
    })().finally(unregister);
    return stopped;
  };
  const unregister = onInterrupt(`skiff daemon in ${runDir}`, stop);
  try {
    const started = await cli(['daemon', 'start'], base);
    if (started.code !== 0) throw new Error(`skiff daemon start: ${started.stderr.trim()}`);
    // Through the node's API, as every command.
    for (const [tag, tarball] of images) {
      const r = await cli(['image', 'import', tarball, tag], base);
      if (r.code !== 0) throw new Error(`skiff image import ${tag}: ${r.stderr.trim()}`);
    }
  } catch (e) {
    await stop();
    throw e;
  }
  const cpuMs = () => {
    const pid = Number(readFileSync(join(runDir, 'skiff.pid'), 'utf8').trim());
    return engineCpuMs(pid, runDir);
  };
  return {
    label: 'skiff',
    cpuMs,
    cli,
    deployArgs: (file, stack) => ['stack', 'deploy', '-c', file, stack],
    socket: join(runDir, 'skiff.sock'),
    stop,
  };
}

/**
 * dockerd in swarm mode with the same images (`docker import` of the same tarballs).
 * DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 stops Swarm from trying a registry for an image
 * it already has (skiff does not try either): the comparison is of orchestration, not
 * of a failing pull.
 */
export async function startSwarm(images: Map<string, string>, log: (m: string) => void): Promise<Engine> {
  process.env.DOCKER_SERVICE_PREFER_OFFLINE_IMAGE = '1';
  const peer: DockerdPeer = await startDockerd({ swarm: true, log });
  try {
    for (const [tag, tarball] of images) await peer.docker(['import', tarball, tag]);
  } catch (e) {
    await peer.stop();
    throw e;
  }
  const env = { ...process.env, DOCKER_HOST: peer.host };
  return {
    label: `${peer.label} (swarm mode)`,
    cli: (args, cwd) => runCommand('docker', args, { env, cwd, timeoutMs: 300_000 }),
    // No registry here: do not ask one for the image's digest.
    deployArgs: (file, stack) => ['stack', 'deploy', '--resolve-image', 'never', '-c', file, stack],
    socket: peer.host.replace(/^unix:\/\//, ''),
    stop: () => peer.stop(),
  };
}

/** `stack rm` and wait until the engine has no task left. */
export async function removeStack(engine: Engine, stack: string, cwd: string): Promise<void> {
  const r = await engine.cli(['stack', 'rm', stack], cwd);
  // Swarm's `stack rm` removes the services, then their networks at once: on a busy machine
  // a network is still "in use by task" shutting down. Once the tasks are gone, a second
  // `stack rm` removes what is left.
  const inUse = r.code !== 0 && /is in use by task/.test(r.stderr);
  if (r.code !== 0 && !inUse) throw new Error(`${engine.label}: stack rm ${stack}: ${r.stderr.trim()}`);
  await timeUntil(
    `${engine.label}: stack ${stack} gone`,
    performance.now(),
    async () => (await allTasks(engine.socket)).length === 0,
    120_000,
  );
  if (!inUse) return;
  const again = await engine.cli(['stack', 'rm', stack], cwd);
  if (again.code !== 0) throw new Error(`${engine.label}: stack rm ${stack}: ${again.stderr.trim()}`);
}

/** One process's /proc stat: its parent, name, and CPU (own + reaped children's), in ms. */
function procStat(pid: string): { ppid: number; comm: string; cpuMs: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // gone meanwhile
  }
  // The name is in parentheses and may hold spaces: the fields after it are fixed.
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const f = text.slice(close + 2).split(' ');
  // utime stime cutime cstime, in clock ticks (USER_HZ: 100 on Linux)
  const ticks = [11, 12, 13, 14].reduce((a, i) => a + Number(f[i] ?? 0), 0);
  return { ppid: Number(f[1]), comm, cpuMs: (ticks * 1000) / 100 };
}

/**
 * CPU of a daemon's process tree plus the conmons of its containers (each found by the
 * run directory in its command line: they leave the daemon's tree when they daemonize).
 */
function engineCpuMs(rootPid: number, runDir: string): number {
  const procs = new Map<number, { ppid: number; comm: string; cpuMs: number }>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const s = procStat(d);
    if (s) procs.set(Number(d), s);
  }
  const inTree = (pid: number): boolean => {
    for (let p: number | undefined = pid, hops = 0; p && hops < 64; hops++) {
      if (p === rootPid) return true;
      p = procs.get(p)?.ppid;
    }
    return false;
  };
  let total = 0;
  for (const [pid, s] of procs) {
    if (inTree(pid)) total += s.cpuMs;
    else if (s.comm === 'conmon') {
      let cmd = '';
      try {
        cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {}
      if (cmd.includes(runDir)) total += s.cpuMs;
    }
  }
  return total;
}
