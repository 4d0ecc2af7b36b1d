// How the network layer runs host tools (ip, iptables, nft, CNI plugins): arguments go
// as an array, never through a shell; callers decide what a non-zero exit means.
import { SkiffError } from '../../lib/index.js';
import type { HelperExec, HelperExecOptions, HelperExecResult } from '../host-exec.js';

// The network layer runs its tools through lib's spawn helper (see network-manager.ts);
// tests pass fakes of the same shape.
export type Exec = HelperExec;
export type ExecOptions = HelperExecOptions;
export type ExecResult = HelperExecResult;

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
