// Runs host tools (ip, iptables, nft, CNI plugins). Arguments go as an array, never
// through a shell; callers decide what a non-zero exit means.
import { spawn } from 'node:child_process';
import { SkiffError } from '../../lib/index.js';

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  input?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}

export type Exec = (file: string, args: readonly string[], options?: ExecOptions) => Promise<ExecResult>;

export const exec: Exec = (file, args, options = {}) =>
  new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: options.env ?? process.env,
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
    child.on('close', (code, signal) => {
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.on('error', () => {}); // a plugin may exit before reading its config
    child.stdin.end(options.input ?? '');
  });

/** Runs a command that must succeed; its stderr becomes the error message. */
export async function mustExec(
  run: Exec,
  file: string,
  args: readonly string[],
  what: string,
): Promise<string> {
  const r = await run(file, args);
  if (r.code !== 0) {
    const detail = (r.stderr.trim() || r.stdout.trim() || `exit code ${r.code}`).split('\n')[0];
    throw new SkiffError('internal', `${what}: ${file} ${args.join(' ')}: ${detail}`);
  }
  return r.stdout;
}
