// A role switch replaces the node's cluster state (identity, raft, keys) with the new
// role's: the old goes first, then the new is written. A node killed in between has no
// identity, and a start without one is a new cluster's first manager — a second cluster
// split off the first. `<stateDir>/role-switch.json`, written before the old state goes
// and removed once the new role started, tells that start what happened. A demotion's
// new state is all known up front (the worker certificate, the managers): the mark holds
// it (0600, as the key files) and the start writes it again. A promotion's comes with the
// manager's start: the start refuses and says how to join again, unless that state was
// whole by then.
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurable } from '../disk/index.js';
import { SkiffError } from '../lib/index.js';
import { hasIdentity, saveIdentity } from '../manager/index.js';
import { removeClusterState } from './cluster-state.js';
import { isWorkerState, type WorkerState, writeWorkerState } from './worker-state.js';

export const ROLE_SWITCH_FILE = 'role-switch.json';

export type SwitchTarget = 'worker' | 'manager';

/** A worker's whole state: what a demotion writes. */
export interface WorkerSwitch {
  cert: { caPem: string; certPem: string; keyPem: string };
  state: WorkerState;
}

/** Records, on disk, that the state directory is about to become `to`'s (with a worker's state). */
export async function beginRoleSwitch(
  stateDir: string,
  to: SwitchTarget,
  worker?: WorkerSwitch,
): Promise<void> {
  await writeFileDurable(join(stateDir, ROLE_SWITCH_FILE), JSON.stringify({ to, worker }), { mode: 0o600 });
}

/** Writes a worker's state in place of what the state directory held (its cluster state removed). */
export async function writeWorkerSwitch(stateDir: string, w: WorkerSwitch): Promise<void> {
  await saveIdentity(stateDir, { caPem: w.cert.caPem, certPem: w.cert.certPem, keyPem: w.cert.keyPem });
  await writeWorkerState(stateDir, w.state);
}

function isWorkerSwitch(v: unknown): v is WorkerSwitch {
  const w = v as Partial<WorkerSwitch> | undefined;
  return (
    typeof w?.cert?.caPem === 'string' &&
    typeof w.cert.certPem === 'string' &&
    typeof w.cert.keyPem === 'string' &&
    typeof w.state?.nodeId === 'string' &&
    Array.isArray(w.state.managers)
  );
}

/** The new role's state is whole (or the node left): nothing to recover any more. */
export async function endRoleSwitch(stateDir: string): Promise<void> {
  await rm(join(stateDir, ROLE_SWITCH_FILE), { force: true });
}

/** Whether what `to` needs to start is all on disk: its identity, then what is written last. */
async function whole(stateDir: string, to: SwitchTarget): Promise<boolean> {
  if (!(await hasIdentity(stateDir))) return false;
  if (to === 'worker') return isWorkerState(stateDir);
  // A joined manager's state is written identity first and the store key last.
  return existsSync(join(stateDir, 'secrets.key')) || existsSync(join(stateDir, 'secrets.key.locked'));
}

/**
 * At start: a switch that was interrupted before the new state was whole is refused (a
 * join with a token starts afresh and may go on); one that got that far just finishes.
 */
export async function checkRoleSwitch(stateDir: string, joining: boolean): Promise<void> {
  const file = join(stateDir, ROLE_SWITCH_FILE);
  if (!existsSync(file)) return;
  let to: SwitchTarget = 'worker';
  let worker: WorkerSwitch | undefined;
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as { to?: unknown; worker?: unknown };
    if (parsed.to === 'manager') to = 'manager';
    if (isWorkerSwitch(parsed.worker)) worker = parsed.worker;
  } catch {
    // unreadable (writeFileDurable leaves none torn): nothing to redo from it
  }
  if (await whole(stateDir, to)) return endRoleSwitch(stateDir);
  if (to === 'worker' && worker) {
    // The demotion's own steps again, from the old state's removal on (done or not).
    await removeClusterState(stateDir);
    await writeWorkerSwitch(stateDir, worker);
    return endRoleSwitch(stateDir);
  }
  if (joining && !(await hasIdentity(stateDir))) return;
  throw new SkiffError(
    'failed_precondition',
    `this node stopped while it switched to a ${to}, before its new cluster state was saved: ` +
      'it no longer knows its cluster, and starting it would make a new one',
    {
      hint:
        'join it again: `skiff daemon run --join <token> …` with a token from `skiff cluster join-token worker` ' +
        'on a manager (then `skiff node rm` its old entry there)',
    },
  );
}
