// Starts, finds and stops the embedded single-node daemon that `skiff compose`
// uses when no cluster is configured: a background skiff node running both a
// manager and an agent.
import { spawn } from 'node:child_process';
import { closeSync, fchmodSync, fstatSync, openSync, readFileSync, readSync, rmSync } from 'node:fs';
import { SkiffError } from '../../lib/index.js';
import { type DaemonPaths, daemonPaths, prepareNodeDirs } from '../../node/index.js';
import { ApiClient } from '../api/index.js';
import { skiffCommand } from '../entry.js';
import { startFailureFromLog } from './start-failure.js';

export interface DaemonStatus {
  running: boolean;
  pid?: number;
  socket: string;
}

export async function daemonStatus(paths: DaemonPaths = daemonPaths()): Promise<DaemonStatus> {
  const pid = readPid(paths.pidFile);
  const alive = pid !== undefined && processAlive(pid);
  const answering = await ping(paths.socket);
  return { running: answering, ...(alive ? { pid } : {}), socket: paths.socket };
}

/**
 * Returns the API address to use: SKIFF_HOST or --host when given, else the local
 * daemon's socket, starting the daemon first when it is not running.
 */
export async function ensureLocalDaemon(
  opts: { host?: string; log?: (line: string) => void; timeoutMs?: number } = {},
): Promise<string> {
  const explicit = opts.host ?? process.env.SKIFF_HOST;
  if (explicit) return explicit;
  const paths = daemonPaths();
  if (await ping(paths.socket)) return `unix://${paths.socket}`;
  if (process.getuid?.() !== 0) {
    throw new SkiffError('forbidden', 'starting the local skiff node needs root (it runs containers)', {
      hint: 'run the command as root (sudo), or point SKIFF_HOST at a running manager',
    });
  }
  opts.log?.('Starting the local skiff node (single-node cluster)…');
  await startDaemon(paths, [], { ready: () => ping(paths.socket), timeoutMs: opts.timeoutMs ?? 30_000 });
  return `unix://${paths.socket}`;
}

/**
 * Starts `skiff daemon run` in the background with `args` and waits until `ready` holds
 * (the API answers; for a worker, which has no API, its pid file appears).
 */
export async function startDaemon(
  paths: DaemonPaths,
  args: string[],
  opts: { ready?: () => Promise<boolean>; timeoutMs?: number; stdin?: string } = {},
): Promise<void> {
  prepareNodeDirs(paths);
  const out = openSync(paths.logFile, 'a', 0o600);
  fchmodSync(out, 0o600);
  // Where this attempt's lines begin, to say why it failed without older runs' lines.
  const logStart = fstatSync(out).size;
  const [node, ...entry] = skiffCommand();
  const child = spawn(
    node,
    [
      ...entry,
      'daemon',
      'run',
      '--state-dir',
      paths.stateDir,
      '--run-dir',
      paths.runDir,
      '--log-file',
      paths.logFile,
      ...args,
    ],
    {
      detached: true,
      stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', out, out],
      env: { ...process.env, SKIFF_DAEMON_CHILD: '1' },
    },
  );
  // A secret (the join token) is handed over on stdin, never as an argument.
  if (opts.stdin !== undefined) {
    child.stdin?.on('error', () => {}); // a node that exits at once is reported below
    child.stdin?.end(opts.stdin);
  }
  child.unref();
  closeSync(out); // the child holds its own copy
  const ready = opts.ready ?? (async () => readPid(paths.pidFile) === child.pid);
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    if (await ready()) return;
    if (child.exitCode !== null) break;
    // A refused connect costs next to nothing; a short interval answers sooner.
    await new Promise((r) => setTimeout(r, 20));
  }
  const exited = child.exitCode !== null;
  const failure = startFailureFromLog(readLogFrom(paths.logFile, logStart));
  if (failure.reason !== undefined) {
    throw new SkiffError('unavailable', `the skiff node did not start: ${failure.reason}`, {
      hint: failure.hint ?? `its log: ${paths.logFile}`,
    });
  }
  const why = exited ? `it exited with code ${child.exitCode}` : 'it did not answer in time';
  throw new SkiffError('unavailable', `the skiff node did not start (${why}); see ${paths.logFile}`, {
    hint: `its last lines: tail ${paths.logFile}`,
  });
}

/** The log written since `start`, at most its last 64 KiB. */
function readLogFrom(file: string, start: number): string {
  const fd = openSync(file, 'r');
  try {
    const end = fstatSync(fd).size;
    const from = Math.max(start, end - 65_536);
    if (end <= from) return '';
    const buf = Buffer.alloc(end - from);
    const n = readSync(fd, buf, 0, buf.length, from);
    return buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

/** Stops the local daemon (its containers keep running until `compose down`). */
export async function stopLocalDaemon(
  paths: DaemonPaths = daemonPaths(),
  timeoutMs = 20_000,
): Promise<boolean> {
  const pid = readPid(paths.pidFile);
  if (pid === undefined || !processAlive(pid)) return false;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && processAlive(pid)) await new Promise((r) => setTimeout(r, 100));
  if (processAlive(pid)) process.kill(pid, 'SIGKILL');
  rmSync(paths.pidFile, { force: true });
  return true;
}

async function ping(socket: string): Promise<boolean> {
  const c = new ApiClient({ host: `unix://${socket}`, timeoutMs: 2000 });
  try {
    return (await c.ping()) === 'OK';
  } catch {
    return false;
  } finally {
    await c.close();
  }
}

function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
