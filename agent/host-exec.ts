// Runs the agent's host tools (ip, iptables, CNI plugins, mount, crun) from a small helper
// process instead of the agent's own. Node's spawn() forks the calling process synchronously, and a fork costs time in
// proportion to the caller's memory: ~2 ms from a 45 MB process, ~8 ms from the agent's
// ~150 MB, ~27 ms from 570 MB — all of it with the event loop stopped. A burst of
// containers needs several execs each (namespace, CNI plugins, iptables), so the agent
// hands them to helpers (plain `node -e` scripts, no files to find) over JSON lines:
// its forks are cheap and never stop the agent. If the helper cannot run, the command is
// spawned directly, as before.
import { type ChildProcess, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { SkiffError } from '../lib/index.js';

export interface HelperExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface HelperExecOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  cwd?: string;
}

export type HelperExec = (
  file: string,
  args: readonly string[],
  options?: HelperExecOptions,
) => Promise<HelperExecResult>;

/** The same, spawned from this process (the fallback). */
const directExec: HelperExec = (file, args, options = {}) =>
  new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: options.env ?? process.env,
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: options.timeoutMs ?? 60_000,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) =>
      reject(new SkiffError('unavailable', `cannot run ${file}: ${e.message}`, { cause: e })),
    );
    child.on('close', (code, signal) =>
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });

const HELPER_SCRIPT = `
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const send = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
const hasMessage = (t) => [...t.matchAll(/\\{[^}]*\\}/g)].some((m) => { try { JSON.parse(m[0]); return true; } catch { return false; } });
function syncPipe(r, finish) {
  let child;
  const fd = fs.openSync(r.sync.stderrFile, 'a');
  try {
    child = spawn(r.file, r.args, { env: { ...process.env, ...r.sync.env }, cwd: r.cwd, stdio: ['ignore', 'ignore', fd, 'pipe'], detached: true });
  } finally { fs.closeSync(fd); }
  child.on('error', (e) => finish({ error: e.message }));
  child.unref();
  const pipe = child.stdio[3];
  const chunks = [];
  const done = (code) => {
    clearTimeout(timer);
    pipe.removeAllListeners();
    pipe.destroy();
    finish({ code, stdout: Buffer.concat(chunks).toString('utf8'), stderr: '' });
  };
  const timer = setTimeout(() => done(-1), r.timeoutMs);
  pipe.on('data', (d) => {
    chunks.push(d);
    if (r.sync.until === 'message' && hasMessage(Buffer.concat(chunks).toString('utf8'))) done(0);
  });
  pipe.on('end', () => done(0));
}
require('node:readline').createInterface({ input: process.stdin })
  .on('line', (line) => {
    const r = JSON.parse(line);
    let done = false;
    const finish = (m) => { if (!done) { done = true; send({ id: r.id, ...m }); } };
    if (r.sync) {
      try { syncPipe(r, finish); } catch (e) { finish({ error: String(e && e.message) }); }
      return;
    }
    let child;
    try {
      child = spawn(r.file, r.args, { env: r.env, cwd: r.cwd, stdio: ['pipe', 'pipe', 'pipe'], timeout: r.timeoutMs });
    } catch (e) { return finish({ error: String(e && e.message) }); }
    const out = [], err = [];
    child.stdout.on('data', (b) => out.push(b));
    child.stderr.on('data', (b) => err.push(b));
    child.on('error', (e) => finish({ error: e.message }));
    child.on('close', (code, signal) => finish({
      code: code ?? (signal ? 128 : 1),
      stdout: Buffer.concat(out).toString('utf8'),
      stderr: Buffer.concat(err).toString('utf8'),
    }));
    child.stdin.on('error', () => {});
    child.stdin.end(r.input ?? '');
  })
  .on('close', () => process.exit(0));
`;

interface Reply {
  id: number;
  code?: number;
  stdout?: string;
  stderr?: string;
  error?: string;
}

interface Pending {
  resolve: (r: HelperExecResult) => void;
  fallback: () => void;
}

class SpawnHelper {
  private child: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  /** Commands sent and not answered yet. */
  get load(): number {
    return this.pending.size;
  }

  run: HelperExec = (file, args, options = {}) =>
    new Promise((resolve, reject) => {
      this.send(
        {
          file,
          args,
          // Only an explicit environment travels: the helper inherited the agent's at its start.
          ...(options.env === undefined ? {} : { env: options.env }),
          input: options.input ?? '',
          timeoutMs: options.timeoutMs ?? 60_000,
          ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
        },
        resolve,
        () => directExec(file, args, options).then(resolve, reject),
      );
    });

  /** A command whose answer comes on a sync pipe (fd 3), through the helper; undefined when it cannot. */
  syncPipe(launch: SyncPipeLaunch): Promise<SyncPipeResult | undefined> {
    return new Promise((resolve) => {
      this.send(
        {
          file: launch.file,
          args: launch.args,
          cwd: launch.cwd,
          timeoutMs: launch.timeoutMs,
          sync: { stderrFile: launch.stderrFile, env: launch.env, until: launch.until },
        },
        (r) =>
          resolve(r.code === -1 ? { text: r.stdout, timedOut: true } : { text: r.stdout, timedOut: false }),
        () => resolve(undefined),
      );
    });
  }

  private send(
    request: Record<string, unknown>,
    resolve: (r: HelperExecResult) => void,
    fallback: () => void,
  ): void {
    const child = this.ensure();
    if (!child?.stdin?.writable) return void fallback();
    const id = this.nextId++;
    this.pending.set(id, { resolve, fallback });
    this.holdOpen(child, true);
    child.stdin.write(`${JSON.stringify({ id, ...request })}\n`);
  }

  private ensure(): ChildProcess | undefined {
    if (this.child) return this.child;
    let child: ChildProcess;
    try {
      child = spawn(process.execPath, ['-e', HELPER_SCRIPT], { stdio: ['pipe', 'pipe', 'ignore'] });
    } catch {
      return undefined;
    }
    this.child = child;
    // An idle helper never keeps the agent alive (a waiting command does); it exits when
    // the agent's end of its stdin closes.
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    this.holdOpen(child, false);
    child.stdin?.on('error', () => this.lost(child));
    child.on('error', () => this.lost(child));
    child.on('exit', () => this.lost(child));
    if (child.stdout) {
      createInterface({ input: child.stdout }).on('line', (line) => {
        let reply: Reply;
        try {
          reply = JSON.parse(line) as Reply;
        } catch {
          return;
        }
        const p = this.pending.get(reply.id);
        if (!p) return;
        this.pending.delete(reply.id);
        if (this.pending.size === 0) this.holdOpen(child, false);
        if (reply.error !== undefined) p.fallback();
        else p.resolve({ code: reply.code ?? 1, stdout: reply.stdout ?? '', stderr: reply.stderr ?? '' });
      });
    }
    return child;
  }

  private holdOpen(child: ChildProcess, hold: boolean): void {
    const out = child.stdout as unknown as { ref?: () => void; unref?: () => void } | null;
    if (hold) out?.ref?.();
    else out?.unref?.();
  }

  /** The helper is gone: what it had not answered runs directly; the next call starts a new one. */
  private lost(child: ChildProcess): void {
    if (this.child !== child) return;
    this.child = undefined;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.fallback();
  }
}

/**
 * A helper per core, at most 4: a helper's spawn() is synchronous too, so one helper
 * forks one command at a time, and a burst (15 containers: ~100 execs) queues behind it.
 */
const HELPERS = Math.max(1, Math.min(4, availableParallelism()));
const shared: SpawnHelper[] = [];

/** The least busy helper process (each started on first use). */
function leastBusy(): SpawnHelper {
  let helper = shared.find((h) => h.load === 0);
  if (!helper && shared.length < HELPERS) {
    helper = new SpawnHelper();
    shared.push(helper);
  }
  return helper ?? shared.reduce((a, b) => (b.load < a.load ? b : a));
}

/** `exec` through the least busy helper process. */
export const helperExec: HelperExec = (file, args, options) => leastBusy().run(file, args, options);

/**
 * A daemonizing monitor (conmon) started from a helper: its stdout and stdin closed, its
 * stderr appended to a file, `env` added to the helper's environment, and what it writes
 * on fd 3 (its sync pipe) returned once the pipe closes, or once it holds a whole JSON
 * message (`until: 'message'`), or when `timeoutMs` passed (`timedOut`). Undefined when
 * no helper can run it: the caller spawns it itself.
 */
export interface SyncPipeLaunch {
  file: string;
  args: readonly string[];
  cwd: string;
  env: Record<string, string>;
  stderrFile: string;
  until: 'message' | 'end';
  timeoutMs: number;
}

export interface SyncPipeResult {
  text: string;
  timedOut: boolean;
}

export function helperSyncPipe(launch: SyncPipeLaunch): Promise<SyncPipeResult | undefined> {
  return leastBusy().syncPipe(launch);
}
