// A long-running process inside a lab host: started through `ip netns exec`, its
// output kept for assertions and failure messages, killable and restartable.
import { type ChildProcess, spawn } from 'node:child_process';
import { inNetns } from '../../lab/index.js';

export { inNetns };

export interface LabSpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /**
   * Join only the host's network namespace (`nsenter --net`) and keep the test process's
   * mount namespace, so mounts the process makes (netns bind mounts, rootfs overlays)
   * are visible outside it; /sys then shows the root namespace's devices. By default
   * `ip netns exec` gives the process a private mount namespace with the host's /sys.
   */
  sharedMounts?: boolean;
  /** How much combined stdout/stderr to keep (default 256 KiB). */
  keepBytes?: number;
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class LabProcess {
  readonly command: string;
  readonly args: readonly string[];
  #child: ChildProcess | undefined;
  #exit: Promise<ProcessExit> | undefined;
  #running = false;
  #output = '';
  #lastExit: ProcessExit | undefined;
  readonly #netns: string;
  readonly #opts: LabSpawnOptions;

  constructor(netns: string, command: string, args: readonly string[], opts: LabSpawnOptions = {}) {
    this.#netns = netns;
    this.command = command;
    this.args = args;
    this.#opts = opts;
    this.#start();
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  get running(): boolean {
    return this.#running;
  }

  /** How the latest run ended, once it has. */
  get lastExit(): ProcessExit | undefined {
    return this.#lastExit;
  }

  /** Combined stdout and stderr of every run so far (the most recent bytes). */
  output(): string {
    return this.#output;
  }

  /** Resolves when the current run ends. */
  exited(): Promise<ProcessExit> {
    return this.#exit ?? Promise.resolve(this.#lastExit ?? { code: null, signal: null });
  }

  /** Sends `signal` and waits for the exit; SIGKILL follows after `graceMs` (default 10 s). */
  async kill(signal: NodeJS.Signals = 'SIGTERM', graceMs = 10_000): Promise<ProcessExit> {
    if (!this.#running || !this.#child) return this.exited();
    this.#child.kill(signal);
    const child = this.#child;
    const escalate = setTimeout(() => child.kill('SIGKILL'), graceMs);
    try {
      return await this.exited();
    } finally {
      clearTimeout(escalate);
    }
  }

  /** Stops the process if it runs (with `signal`) and starts it again with the same command. */
  async restart(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    await this.kill(signal);
    this.#start();
  }

  #start(): void {
    const keep = this.#opts.keepBytes ?? 256 * 1024;
    const [cmd, args] = inNetns(this.#netns, this.command, this.args, this.#opts.sharedMounts);
    const child = spawn(cmd, args, {
      env: this.#opts.env ?? process.env,
      cwd: this.#opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    this.#running = true;
    const append = (b: Buffer) => {
      this.#output = (this.#output + b.toString('utf8')).slice(-keep);
    };
    child.stdout?.on('data', append);
    child.stderr?.on('data', append);
    this.#exit = new Promise((resolve) => {
      let settled = false;
      const done = (exit: ProcessExit) => {
        if (settled) return;
        settled = true;
        if (this.#child === child) {
          this.#running = false;
          this.#lastExit = exit;
        }
        resolve(exit);
      };
      child.on('error', (e) => {
        append(Buffer.from(`\ncannot start ${this.command}: ${e.message}\n`));
        done({ code: null, signal: null });
      });
      // 'exit', not 'close': a grandchild holding the pipes must not hide the exit.
      child.on('exit', (code, signal) => done({ code, signal }));
    });
  }
}
