// Attaching to a container's own stdio (`docker run -it`, `docker attach`): conmon holds
// the container's stdin, stdout and stderr (or its terminal) and serves them on its
// attach socket, `<socket dir>/<id>/attach`. That socket is SOCK_SEQPACKET, which Node
// cannot open, so a small Python helper (python3's standard library only) connects to
// it: our stdin goes to the container's stdin, and each packet conmon sends (its first
// byte the pipe: 2 stdout, 3 stderr) comes back as a Docker multiplexed frame on the
// helper's stdout. The helper says `ready` on stderr once connected; it ends when conmon
// closes the socket (the container exited). Our end of input half-closes the socket,
// which closes the container's stdin when it was created with StdinOnce.
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { decodeFrames, SkiffError, STDERR } from '../../lib/index.js';

const HELPER = String.raw`
import os, sys, socket, select
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect('attach')
sys.stderr.write('ready\n')
sys.stderr.flush()
def write_all(fd, data):
    while data:
        data = data[os.write(fd, data):]
inputs = [s, 0] if sys.argv[1] == '1' else [s]
while s in inputs:
    ready, _, _ = select.select(inputs, [], [])
    for f in ready:
        if f is s:
            try:
                data = s.recv(65536)
            except OSError:
                data = b''
            if not data:
                inputs.remove(s)
                break
            pipe, payload = data[0], data[1:]
            if pipe in (2, 3) and payload:
                write_all(1, bytes([pipe - 1, 0, 0, 0]) + len(payload).to_bytes(4, 'big') + payload)
        else:
            data = os.read(0, 4096)
            if not data:
                inputs.remove(0)
                try:
                    s.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
            else:
                try:
                    s.sendall(data)
                except OSError:
                    inputs.remove(0)
`;

export interface AttachRequest {
  /** The directory holding conmon's `attach` socket. */
  dir: string;
  stdin?: Readable;
  onOutput: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
  signal?: AbortSignal;
  python?: string;
}

export interface AttachSession {
  /** Resolves when the container's side closed (it exited) or the caller aborted. */
  done: Promise<void>;
}

/** Connects to the container's stdio; resolves once connected (output from then on is seen). */
export function attachConmon(req: AttachRequest): Promise<AttachSession> {
  const child = spawn(req.python ?? 'python3', ['-c', HELPER, req.stdin ? '1' : '0'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    cwd: req.dir,
  });
  child.stdin.on('error', () => undefined);
  const input = req.stdin;
  if (input) {
    input.on('error', () => child.stdin.end());
    input.pipe(child.stdin);
    child.on('close', () => input.unpipe(child.stdin));
  } else child.stdin.end();
  const kill = () => child.kill('SIGKILL');
  req.signal?.addEventListener('abort', kill, { once: true });
  const output = (async () => {
    try {
      for await (const f of decodeFrames(child.stdout))
        req.onOutput(f.stream === STDERR ? 'stderr' : 'stdout', f.payload);
    } catch {
      // The helper died mid-frame: the session is over.
    }
  })();
  const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const done = Promise.all([output, closed]).then(() => {
    req.signal?.removeEventListener('abort', kill);
  });
  return new Promise((resolve, reject) => {
    let err = '';
    const onErr = (d: Buffer) => {
      err += d.toString('utf8');
      if (err.startsWith('ready\n')) {
        child.stderr.off('data', onErr);
        child.stderr.resume();
        resolve({ done });
      }
    };
    child.stderr.on('data', onErr);
    child.on('error', (e) =>
      reject(
        new SkiffError('unavailable', `cannot run python3 to attach to a container: ${e.message}`, {
          hint: 'install python3 (scripts/setup does)',
          cause: e,
        }),
      ),
    );
    void closed.then((code) => {
      if (!err.startsWith('ready\n'))
        reject(
          new SkiffError(
            'conflict',
            `cannot attach to the container: ${err.trim().split('\n').pop() || `exit code ${code}`}`,
          ),
        );
    });
  });
}
