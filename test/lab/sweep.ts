// Removes what crashed or interrupted test runs left behind: every lab resource whose
// owner process (encoded in its name) no longer exists.
import { parseRunName } from './names.js';
import { findRuns, removeRun } from './teardown.js';

export interface SweepReport {
  /** Run prefixes whose leftovers were removed. */
  removed: string[];
}

/** Whether a process with this pid exists (owner of a run). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function sweepLeftovers(opts: { isOwnerAlive?: (pid: number) => boolean } = {}): SweepReport {
  const alive = opts.isOwnerAlive ?? isProcessAlive;
  const removed: string[] = [];
  for (const [prefix, run] of findRuns()) {
    const owner = parseRunName(prefix);
    if (!owner || alive(owner.ownerPid)) continue;
    removeRun(prefix, run);
    removed.push(prefix);
  }
  return { removed };
}
