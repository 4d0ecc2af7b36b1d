// Starts conmon, the small C monitor that owns a container for its whole life: it runs
// the OCI runtime's `create`, holds the container's stdio, writes the k8s-file log
// and, when the container exits, its exit code (and an `oom` marker) to files. It
// daemonizes, so containers outlive the agent. We learn the container's pid (or
// the runtime's error) through a sync pipe on fd 3 (conmon's API version 1).
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { SkiffError } from '../../lib/index.js';
import { helperSyncPipe } from '../host-exec.js';

export interface ConmonLaunch {
  conmon: string;
  runtimeBinary: string;
  runtimeRoot: string;
  id: string;
  name: string;
  bundle: string;
  /** Where conmon writes the container pid. */
  pidFile: string;
  /** Where conmon writes its own pid (absent for exec). */
  conmonPidFile?: string;
  logPath: string;
  logSizeMax?: number;
  exitDir: string;
  /** conmon's persist dir: `exit` and `oom` files land here. */
  persistDir?: string;
  socketDir: string;
  /** conmon's own stderr (its errors before it daemonizes and later ones). */
  conmonLog: string;
  tty?: boolean;
  stdin?: boolean;
  /** Keep the container's stdin open when an attached client's input ends (not StdinOnce). */
  leaveStdinOpen?: boolean;
  /** For exec: the process.json to run in the existing container. */
  execProcessSpec?: string;
  /** conmon kills the process after this many seconds (exec only). */
  killAfterSeconds?: number;
  timeoutMs?: number;
}

export interface SyncMessage {
  data: number;
  message?: string;
}

/**
 * Runs conmon (from a helper process, or itself when none runs) and resolves with the sync pipe's messages once it closes: the first
 * carries the pid (negative on failure); for exec a second carries the exit code.
 */
export async function launchConmon(l: ConmonLaunch): Promise<SyncMessage[]> {
  const args = [
    '--api-version',
    '1',
    '-c',
    l.id,
    '-u',
    l.execProcessSpec ? `${l.id}-exec` : l.id,
    '-n',
    l.name,
    '-r',
    l.runtimeBinary,
    '-b',
    l.bundle,
    '-p',
    l.pidFile,
    '-l',
    `k8s-file:${l.logPath}`,
    '--exit-dir',
    l.exitDir,
    '--socket-dir-path',
    l.socketDir,
    '--runtime-arg',
    `--root=${l.runtimeRoot}`,
    '--log-level',
    'error',
  ];
  if (l.conmonPidFile) args.push('-P', l.conmonPidFile);
  if (l.persistDir) args.push('-0', l.persistDir);
  if (l.logSizeMax) args.push('--log-size-max', String(l.logSizeMax));
  if (l.tty) args.push('-t');
  if (l.stdin) args.push('-i');
  if (l.stdin && l.leaveStdinOpen !== false) args.push('--leave-stdin-open');
  if (l.execProcessSpec) args.push('-e', '--exec-process-spec', l.execProcessSpec);
  if (l.killAfterSeconds) args.push('-T', String(l.killAfterSeconds));
  const timeoutMs = l.timeoutMs ?? 60_000;
  // conmon's working directory: it drops an `oom` marker there, the container's, not the agent's.
  const cwd = l.persistDir ?? l.bundle;
  // From a helper process: a spawn from the agent forks its ~150 MB with the event loop
  // stopped (~10-30 ms per container on a busy node: agent/host-exec.ts).
  const viaHelper = await helperSyncPipe({
    file: l.conmon,
    args,
    cwd,
    env: { _OCI_SYNCPIPE: '3' },
    stderrFile: l.conmonLog,
    // A container's conmon may keep the pipe open for its whole life: the pid is all we wait for.
    until: l.execProcessSpec ? 'end' : 'message',
    timeoutMs,
  });
  if (viaHelper?.timedOut)
    throw new SkiffError('timeout', `conmon for ${l.id} did not report within ${timeoutMs} ms`);
  if (viaHelper) return parse(viaHelper.text);
  return new Promise((resolve, reject) => {
    // A file, not a pipe, for conmon's stderr: a pipe would break when the agent dies.
    const errFd = openSync(l.conmonLog, 'a');
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(l.conmon, args, {
        stdio: ['ignore', 'ignore', errFd, 'pipe'],
        env: { ...process.env, _OCI_SYNCPIPE: '3' },
        cwd,
        detached: true,
      });
    } finally {
      closeSync(errFd);
    }
    const chunks: Buffer[] = [];
    const sync = child.stdio[3] as NodeJS.ReadableStream | null;
    if (!sync) {
      reject(new SkiffError('internal', 'conmon sync pipe missing'));
      return;
    }
    const timer = setTimeout(() => {
      sync.removeAllListeners();
      (sync as NodeJS.ReadableStream & { destroy(): void }).destroy();
      reject(new SkiffError('timeout', `conmon for ${l.id} did not report within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new SkiffError('unavailable', `cannot run conmon (${l.conmon}): ${e.message}`, { cause: e }));
    });
    child.unref();
    const finish = (): void => {
      clearTimeout(timer);
      sync.removeAllListeners();
      (sync as NodeJS.ReadableStream & { destroy(): void }).destroy();
      resolve(parse(Buffer.concat(chunks).toString('utf8')));
    };
    sync.on('data', (d: Buffer) => {
      chunks.push(d);
      // A container's conmon may keep the pipe open for its whole life: the pid is all we wait for.
      if (!l.execProcessSpec && parse(Buffer.concat(chunks).toString('utf8')).length > 0) finish();
    });
    sync.on('end', finish);
  });
}

function parse(text: string): SyncMessage[] {
  const msgs: SyncMessage[] = [];
  for (const m of text.matchAll(/\{[^}]*\}/g)) {
    try {
      msgs.push(JSON.parse(m[0]) as SyncMessage);
    } catch {
      // a torn message: wait for more
    }
  }
  return msgs;
}

/** Reads conmon's stderr file for an error message (last lines). */
export async function conmonErrors(path: string): Promise<string> {
  try {
    const text = await readFile(path, 'utf8');
    return text
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.includes('oom_score_adj'))
      .slice(-3)
      .join('; ');
  } catch {
    return '';
  }
}
