// The OCI runtime's command line (crun or runc share it): start, kill, delete, state.
import { execFile } from 'node:child_process';
import { SkiffError } from '../../lib/index.js';

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

  run(args: string[], what: string): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        this.binary,
        [`--root=${this.stateRoot}`, ...args],
        { encoding: 'utf8' },
        (err, stdout, stderr) => {
          if (err) {
            const detail = (stderr.trim() || err.message).split('\n').slice(-3).join('; ');
            reject(
              new SkiffError('internal', `${what}: ${this.binary} ${args[0]} failed: ${detail}`, {
                cause: err,
              }),
            );
            return;
          }
          resolve(stdout);
        },
      );
    });
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
