// An interactive exec with a TTY: the OCI runtime makes the pseudo-terminal inside the
// container and hands its master side over a console socket (SCM_RIGHTS), which Node
// cannot receive (its sockets read without recvmsg). A small Python helper (python3's
// standard library only) takes the master, copies our stdin to it and its output to
// our stdout, and applies window sizes written to its fd 3; it exits with the runtime's
// exit code, the command's. conmon's attach socket is SOCK_SEQPACKET, which Node cannot
// open either, so this goes around conmon: the exec lives as long as our connection.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { SkiffError } from '../../lib/index.js';
import type { OciRuntimeCli } from './oci-runtime-cli.js';

/** The helper: argv = console socket path (relative: the runtime shares its cwd), then the runtime's command line. */
const HELPER = String.raw`
import os, sys, socket, select, subprocess, fcntl, termios, struct
path, argv = sys.argv[1], sys.argv[2:]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(path)
srv.listen(1)
srv.settimeout(0.1)
child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=2)
master = None
while master is None:
    try:
        conn, _ = srv.accept()
    except socket.timeout:
        if child.poll() is not None:
            sys.exit(child.returncode if child.returncode >= 0 else 128 - child.returncode)
        continue
    _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
    conn.close()
    if fds:
        master = fds[0]
srv.close()
os.unlink(path)
def write_all(fd, data):
    while data:
        data = data[os.write(fd, data):]
def resize(line):
    parts = line.split()
    if len(parts) == 2:
        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack('HHHH', int(parts[0]), int(parts[1]), 0, 0))
inputs = [master, 0, 3]
rest = b''
while master in inputs:
    ready, _, _ = select.select(inputs, [], [])
    for fd in ready:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b''
        if not data:
            inputs.remove(fd)
        elif fd == master:
            write_all(1, data)
        elif fd == 0:
            try:
                write_all(master, data)
            except OSError:
                inputs.remove(0)
        else:
            rest += data
            *lines, rest = rest.split(b'\n')
            for line in lines:
                try:
                    resize(line)
                except (OSError, ValueError):
                    pass
code = child.wait()
sys.exit(code if code >= 0 else 128 - code)
`;

export interface PtyExecRequest {
  oci: OciRuntimeCli;
  id: string;
  /** The process spec (terminal: true) written for the runtime. */
  specPath: string;
  /** A private directory for the console socket and pid file. */
  dir: string;
  stdin?: Readable;
  onOutput: (chunk: Buffer) => void;
  signal?: AbortSignal;
  /** Called once the command is on its way, with the way to resize its terminal. */
  onStarted?: (control: { resize(height: number, width: number): void }) => void;
  python?: string;
}

export function ptyExec(req: PtyExecRequest): Promise<{ exitCode: number; stderr: string }> {
  // Relative to the helper's working directory: a unix socket's path is short (108 bytes).
  const socketPath = 'console.sock';
  const pidFile = join(req.dir, 'pid');
  const child = spawn(
    req.python ?? 'python3',
    [
      '-c',
      HELPER,
      socketPath,
      req.oci.binary,
      `--root=${req.oci.stateRoot}`,
      'exec',
      '--tty',
      '--console-socket',
      socketPath,
      '--process',
      req.specPath,
      '--pid-file',
      pidFile,
      req.id,
    ],
    { stdio: ['pipe', 'pipe', 'pipe', 'pipe'], cwd: req.dir },
  );
  const control = child.stdio[3] as Writable;
  control.on('error', () => undefined);
  child.stdin.on('error', () => undefined);
  const input = req.stdin;
  if (input) {
    input.on('error', () => child.stdin.end());
    input.pipe(child.stdin);
    child.on('close', () => input.unpipe(child.stdin));
  }
  // Without input the terminal's stdin stays open (as docker's exec -t without -i): the
  // command ends on its own.
  child.stdout.on('data', (d: Buffer) => req.onOutput(d));
  const err: Buffer[] = [];
  child.stderr.on('data', (d: Buffer) => {
    if (err.reduce((n, b) => n + b.length, 0) < 64 * 1024) err.push(d);
  });
  const kill = () => {
    void readFile(pidFile, 'utf8').then(
      (text) => {
        const pid = Number(text.trim());
        if (pid > 0) process.kill(pid, 'SIGKILL');
        else child.kill('SIGKILL');
      },
      () => child.kill('SIGKILL'),
    );
  };
  req.signal?.addEventListener('abort', kill, { once: true });
  req.onStarted?.({
    resize: (h, w) => {
      if (Number.isInteger(h) && Number.isInteger(w) && h > 0 && w > 0 && h < 65536 && w < 65536)
        control.write(`${h} ${w}\n`);
    },
  });
  return new Promise((resolve, reject) => {
    child.on('error', (e) =>
      reject(
        new SkiffError('unavailable', `cannot run python3 for an interactive TTY exec: ${e.message}`, {
          hint: 'install python3 (scripts/setup does)',
          cause: e,
        }),
      ),
    );
    child.on('close', (code, signal) => {
      req.signal?.removeEventListener('abort', kill);
      control.destroy();
      resolve({
        exitCode: code ?? (signal ? 137 : 1),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
  });
}
