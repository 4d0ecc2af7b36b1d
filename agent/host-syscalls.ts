// The two host operations each container start needs that Node has no call for — a
// named network namespace (unshare + bind mount, loopback up) and its rootfs's overlay
// mount — made by one long-lived python3 helper (standard library only: ctypes) that
// forks a child per request, instead of an exec of unshare, ip and mount(8) per
// container. On 2 cores a burst of 15 tasks spends most of its time in such execs
// (each a fork and an exec of a dynamically linked tool, ~3–5 ms of CPU); a fork of a
// small python process costs well under one. When python3 cannot run, or the helper
// dies, the caller falls back to the tools (`undefined` from `hostSyscalls()` calls).
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const HELPER = String.raw`
import ctypes, fcntl, json, os, socket, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
CLONE_NEWNET = 0x40000000
MS_BIND = 4096
def check(rc, what):
    if rc != 0:
        e = ctypes.get_errno()
        raise OSError(e, what + ': ' + os.strerror(e))
def netns(r):
    check(libc.unshare(CLONE_NEWNET), 'unshare')
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ifr = struct.pack('16sH14x', b'lo', 0)
    flags = struct.unpack('16sH14x', fcntl.ioctl(s, 0x8913, ifr))[1]
    fcntl.ioctl(s, 0x8914, struct.pack('16sH14x', b'lo', flags | 1))
    check(libc.mount(b'/proc/self/ns/net', r['file'].encode(), None, MS_BIND, None), 'bind mount')
def mount(r):
    if r.get('cwd'): os.chdir(r['cwd'])
    check(libc.mount(r['source'].encode(), r['target'].encode(), r['type'].encode(), 0, r['data'].encode()), 'mount')
OPS = {'netns': netns, 'mount': mount}
for line in sys.stdin:
    r = json.loads(line)
    rd, wr = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(rd)
        try:
            OPS[r['op']](r)
            os._exit(0)
        except BaseException as e:
            os.write(wr, str(e).encode()[:4000])
            os._exit(1)
    os.close(wr)
    msg = b''
    while True:
        b = os.read(rd, 4096)
        if not b: break
        msg += b
    os.close(rd)
    _, status = os.waitpid(pid, 0)
    ok = os.waitstatus_to_exitcode(status) == 0
    sys.stdout.write(json.dumps({'id': r['id'], 'ok': ok, 'error': msg.decode(errors='replace')}) + '\n')
    sys.stdout.flush()
`;

export interface HostSyscalls {
  /**
   * Creates a network namespace with its loopback up and binds it at `file` (an
   * existing empty file). Undefined when the helper could not run it: use the tools.
   */
  netns(file: string): Promise<SyscallResult | undefined>;
  /** mount(2) of `type` with `data` as its options, relative paths resolved from `cwd`. */
  mount(m: {
    type: string;
    source: string;
    data: string;
    target: string;
    cwd?: string;
  }): Promise<SyscallResult | undefined>;
}

export type SyscallResult = { ok: true } | { ok: false; error: string };

interface Pending {
  resolve(r: SyscallResult | undefined): void;
}

class PythonSyscalls implements HostSyscalls {
  private child: ChildProcess | undefined;
  private broken = false;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  start(): void {
    this.ensure();
  }

  netns(file: string): Promise<SyscallResult | undefined> {
    return this.send({ op: 'netns', file });
  }

  mount(m: { type: string; source: string; data: string; target: string; cwd?: string }) {
    return this.send({ op: 'mount', ...m });
  }

  private send(request: Record<string, unknown>): Promise<SyscallResult | undefined> {
    return new Promise((resolve) => {
      const child = this.ensure();
      if (!child?.stdin?.writable) return resolve(undefined);
      const id = this.nextId++;
      this.pending.set(id, { resolve });
      this.hold(child, true);
      child.stdin.write(`${JSON.stringify({ id, ...request })}\n`);
    });
  }

  private ensure(): ChildProcess | undefined {
    if (this.child) return this.child;
    if (this.broken) return undefined;
    let child: ChildProcess;
    try {
      child = spawn('python3', ['-c', HELPER], { stdio: ['pipe', 'pipe', 'ignore'] });
    } catch {
      this.broken = true;
      return undefined;
    }
    this.child = child;
    // An idle helper never keeps the agent alive; it exits when its stdin closes.
    child.unref();
    (child.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    this.hold(child, false);
    child.stdin?.on('error', () => this.lost(child));
    child.on('error', () => {
      // python3 is missing: the tools do it from now on.
      this.broken = true;
      this.lost(child);
    });
    child.on('exit', () => this.lost(child));
    if (child.stdout)
      createInterface({ input: child.stdout }).on('line', (line) => {
        let reply: { id: number; ok: boolean; error: string };
        try {
          reply = JSON.parse(line) as typeof reply;
        } catch {
          return;
        }
        const p = this.pending.get(reply.id);
        if (!p) return;
        this.pending.delete(reply.id);
        if (this.pending.size === 0) this.hold(child, false);
        p.resolve(reply.ok ? { ok: true } : { ok: false, error: reply.error || 'failed' });
      });
    return child;
  }

  private hold(child: ChildProcess, hold: boolean): void {
    const out = child.stdout as unknown as { ref?: () => void; unref?: () => void } | null;
    if (hold) out?.ref?.();
    else out?.unref?.();
  }

  /** The helper is gone: what it had not answered falls back to the tools. */
  private lost(child: ChildProcess): void {
    if (this.child !== child) return;
    this.child = undefined;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.resolve(undefined);
  }
}

let shared: PythonSyscalls | undefined;

/** The process's one syscall helper, started on first use (python3's start is not on a task's path). */
export function hostSyscalls(): HostSyscalls {
  if (!shared) {
    shared = new PythonSyscalls();
    shared.start();
  }
  return shared;
}
