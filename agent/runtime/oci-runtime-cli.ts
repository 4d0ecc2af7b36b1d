// The OCI runtime's command line (crun or runc share it): start, kill, delete, state.
import { SkiffError } from '../../lib/index.js';
import { helperExec } from '../host-exec.js';

export interface OciState {
  id: string;
  status: 'creating' | 'created' | 'running' | 'stopped' | 'paused';
  pid?: number;
}

export class OciRuntimeCli {
  constructor(
    readonly binary: string,
    /** The runtime's state directory (--root). */
    readonly stateRoot: string,
  ) {}

  /** From the shared helper process: a spawn from the agent itself stops its event loop (agent/host-exec.ts). */
  async run(args: string[], what: string): Promise<string> {
    const r = await helperExec(this.binary, [`--root=${this.stateRoot}`, ...args], { timeoutMs: 0 });
    if (r.code !== 0) {
      const detail = (r.stderr.trim() || `exit code ${r.code}`).split('\n').slice(-3).join('; ');
      throw new SkiffError('internal', `${what}: ${this.binary} ${args[0]} failed: ${detail}`);
    }
    return r.stdout;
  }

  async start(id: string): Promise<void> {
    await this.run(['start', id], `starting container ${id}`);
  }

  async kill(id: string, signal: string): Promise<void> {
    await this.run(['kill', id, signal], `signalling container ${id}`);
  }

  async delete(id: string): Promise<void> {
    await this.run(['delete', '--force', id], `deleting container ${id}`);
  }

  /** The runtime's view, or undefined when it does not know the container. */
  async state(id: string): Promise<OciState | undefined> {
    try {
      return JSON.parse(await this.run(['state', id], `state of ${id}`)) as OciState;
    } catch {
      return undefined;
    }
  }
}
