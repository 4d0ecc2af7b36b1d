// Runs a command in a running container. Without a TTY the OCI runtime's `exec` runs
// as our child with piped stdio (fast, and stdin can be fed); with a TTY conmon holds
// the pseudo-terminal and writes its output to a log we read back.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { SkiffError } from '../../lib/index.js';
import { launchConmon } from './conmon.js';
import { parseLogRecord, parseLogText } from './k8s-log.js';
import type { OciProcess } from './oci-config.js';
import type { OciRuntimeCli } from './oci-runtime-cli.js';
import { ptyExec } from './pty-exec.js';
import type { ExecResult } from './types.js';

export interface ExecRequest {
  oci: OciRuntimeCli;
  conmon: string;
  id: string;
  name: string;
  bundle: string;
  runDir: string;
  process: OciProcess;
  stdin?: string | Uint8Array | Readable;
  timeoutMs?: number;
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
  signal?: AbortSignal;
  /** With a TTY: the command is interactive (see pty-exec.ts); this gets its resize control. */
  onStarted?: (control: { resize(height: number, width: number): void }) => void;
}

const OUTPUT_LIMIT = 16 * 1024 * 1024;

export async function execInContainer(req: ExecRequest): Promise<ExecResult> {
  const tag = randomBytes(6).toString('hex');
  const specPath = join(req.runDir, `exec-${tag}.json`);
  await writeFile(specPath, JSON.stringify(req.process), { mode: 0o600 });
  try {
    if (!req.process.terminal) return await execPiped(req, tag, specPath);
    // Input or a resizable terminal needs the terminal's master side: the pty helper.
    if (req.stdin instanceof Readable || req.onStarted) return await execInteractive(req, tag, specPath);
    return await execWithTty(req, tag, specPath);
  } finally {
    await rm(specPath, { force: true });
  }
}

async function execPiped(req: ExecRequest, tag: string, specPath: string): Promise<ExecResult> {
  const pidFile = join(req.runDir, `exec-${tag}.pid`);
  const child = spawn(
    req.oci.binary,
    [`--root=${req.oci.stateRoot}`, 'exec', '--process', specPath, '--pid-file', pidFile, req.id],
    {
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  let size = 0;
  const collect = (into: Buffer[]) => (d: Buffer) => {
    size += d.length;
    if (size <= OUTPUT_LIMIT) into.push(d);
  };
  const onOutput = req.onOutput;
  if (onOutput) {
    child.stdout.on('data', (d: Buffer) => onOutput('stdout', d));
    child.stderr.on('data', (d: Buffer) => onOutput('stderr', d));
  } else {
    child.stdout.on('data', collect(out));
    child.stderr.on('data', collect(err));
  }
  const abort = () => void killExec(pidFile, () => child.kill('SIGKILL'));
  req.signal?.addEventListener('abort', abort, { once: true });
  child.stdin.on('error', () => undefined);
  const input = req.stdin;
  if (input instanceof Readable) {
    // A stream is fed as it comes (a caller's pipe); the command may end before it does.
    input.on('error', () => child.stdin.end());
    input.pipe(child.stdin);
    child.on('close', () => input.unpipe(child.stdin));
  } else child.stdin.end(input === undefined ? undefined : Buffer.from(input));
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  if (req.timeoutMs !== undefined) {
    timer = setTimeout(() => {
      timedOut = true;
      void killExec(pidFile, () => child.kill('SIGKILL'));
    }, req.timeoutMs);
  }
  try {
    const exitCode = await new Promise<number>((resolve, reject) => {
      child.on('error', (e) =>
        reject(new SkiffError('unavailable', `cannot run ${req.oci.binary}: ${e.message}`, { cause: e })),
      );
      child.on('close', (code, signal) => resolve(code ?? 128 + signalNumber(signal)));
    });
    const stderr = Buffer.concat(err).toString('utf8');
    return {
      exitCode: timedOut ? 137 : exitCode,
      stdout: Buffer.concat(out).toString('utf8'),
      stderr,
      ...(timedOut ? { timedOut } : {}),
    };
  } finally {
    if (timer) clearTimeout(timer);
    req.signal?.removeEventListener('abort', abort);
    await rm(pidFile, { force: true });
  }
}

async function execInteractive(req: ExecRequest, tag: string, specPath: string): Promise<ExecResult> {
  const dir = join(req.runDir, `exec-${tag}`);
  await mkdir(dir, { mode: 0o700 });
  try {
    const out: Buffer[] = [];
    const onOutput = req.onOutput;
    const r = await ptyExec({
      oci: req.oci,
      id: req.id,
      specPath,
      dir,
      ...(req.stdin instanceof Readable ? { stdin: req.stdin } : {}),
      onOutput: (d) => (onOutput ? onOutput('stdout', d) : out.push(d)),
      ...(req.signal ? { signal: req.signal } : {}),
      ...(req.onStarted ? { onStarted: req.onStarted } : {}),
    });
    // The runtime's own complaint (no such command, …): the caller's terminal shows it.
    if (r.stderr) {
      if (onOutput) onOutput('stderr', Buffer.from(r.stderr));
    }
    return {
      exitCode: r.exitCode,
      stdout: Buffer.concat(out).toString('utf8'),
      stderr: onOutput ? '' : r.stderr,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function killExec(pidFile: string, fallback: () => void): Promise<void> {
  try {
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    if (pid > 0) process.kill(pid, 'SIGKILL');
    else fallback();
  } catch {
    fallback();
  }
}

function signalNumber(signal: NodeJS.Signals | null): number {
  if (!signal) return 0;
  const table: Record<string, number> = {
    SIGKILL: 9,
    SIGTERM: 15,
    SIGINT: 2,
    SIGHUP: 1,
    SIGQUIT: 3,
    SIGPIPE: 13,
  };
  return table[signal] ?? 0;
}

async function execWithTty(req: ExecRequest, tag: string, specPath: string): Promise<ExecResult> {
  if (req.stdin !== undefined) {
    throw new SkiffError('unsupported', 'exec with a TTY does not take stdin input here', {
      hint: 'run the command without a TTY to feed it stdin',
    });
  }
  // Everything conmon writes for this exec (log, pid, exit file) goes in one directory.
  const dir = join(req.runDir, `exec-${tag}`);
  await mkdir(dir, { mode: 0o700 });
  const logPath = join(dir, 'log');
  // Streaming: follow the log conmon writes while the command runs.
  const tail = req.onOutput ? new LogTail(logPath, req.onOutput) : undefined;
  const timer = tail ? setInterval(() => void tail.poll(), 100) : undefined;
  const abort = () => void killExec(join(dir, 'pid'), () => undefined);
  req.signal?.addEventListener('abort', abort, { once: true });
  try {
    const msgs = await launchConmon({
      conmon: req.conmon,
      runtimeBinary: req.oci.binary,
      runtimeRoot: req.oci.stateRoot,
      id: req.id,
      name: req.name,
      bundle: req.bundle,
      pidFile: join(dir, 'pid'),
      logPath,
      exitDir: dir,
      socketDir: dir,
      conmonLog: join(dir, 'conmon.log'),
      tty: true,
      execProcessSpec: specPath,
      ...(req.timeoutMs !== undefined
        ? {
            killAfterSeconds: Math.max(1, Math.ceil(req.timeoutMs / 1000)),
            timeoutMs: req.timeoutMs + 30_000,
          }
        : { timeoutMs: 24 * 3600_000 }),
    });
    const pid = msgs[0]?.data ?? -1;
    if (pid <= 0) {
      throw new SkiffError(
        'internal',
        `exec in container ${req.id} failed: ${msgs[0]?.message ?? 'no pid reported'}`,
      );
    }
    const exitCode = msgs[1]?.data ?? -1;
    let stdout = '';
    if (tail) {
      if (timer) clearInterval(timer);
      await tail.poll();
    } else {
      const text = await readFile(logPath, 'utf8').catch(() => '');
      stdout = parseLogText(text)
        .map((e) => `${e.line}\n`)
        .join('');
    }
    // conmon reports a negative status when it killed the process at its timeout.
    if (exitCode < 0 && req.timeoutMs !== undefined)
      return { exitCode: 137, stdout, stderr: '', timedOut: true };
    return { exitCode, stdout, stderr: '' };
  } finally {
    if (timer) clearInterval(timer);
    req.signal?.removeEventListener('abort', abort);
    await tail?.done();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Reads the records appended to a k8s-file log since the last poll and hands on their text. */
class LogTail {
  private offset = 0;
  private rest = Buffer.alloc(0);
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly path: string,
    private readonly onOutput: (stream: 'stdout' | 'stderr', chunk: Buffer) => void,
  ) {}

  /** One read at a time, in order. */
  poll(): Promise<void> {
    this.running = this.running.then(() => this.read()).catch(() => undefined);
    return this.running;
  }

  done(): Promise<void> {
    return this.running;
  }

  private async read(): Promise<void> {
    let fh: FileHandle;
    try {
      fh = await open(this.path, 'r');
    } catch {
      return; // conmon has not created it yet
    }
    try {
      const buf = Buffer.alloc(64 * 1024);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, this.offset);
        if (bytesRead === 0) break;
        this.offset += bytesRead;
        // Split on bytes, so a character cut by the read is decoded whole next time.
        const data = Buffer.concat([this.rest, buf.subarray(0, bytesRead)]);
        const end = data.lastIndexOf(0x0a);
        this.rest = end < 0 ? data : data.subarray(end + 1);
        if (end < 0) continue;
        for (const line of data.subarray(0, end).toString('utf8').split('\n')) {
          const r = parseLogRecord(line);
          if (r) this.onOutput(r.stream, Buffer.from(r.partial ? r.text : `${r.text}\n`));
        }
      }
    } finally {
      await fh.close();
    }
  }
}
