// What a worker keeps beside its identity (`<stateDir>/worker.json`): its node ID and
// the managers it last knew, so that a restart finds the cluster again.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileDurable } from '../disk/index.js';

export const WORKER_STATE_FILE = 'worker.json';

export interface WorkerState {
  nodeId: string;
  /** API addresses (host:port) of the managers. */
  managers: string[];
}

/** Whether this state directory belongs to a worker that joined a cluster. */
export function isWorkerState(stateDir: string): boolean {
  return existsSync(join(stateDir, WORKER_STATE_FILE));
}

export async function readWorkerState(stateDir: string): Promise<WorkerState> {
  return JSON.parse(await readFile(join(stateDir, WORKER_STATE_FILE), 'utf8')) as WorkerState;
}

export async function writeWorkerState(stateDir: string, state: WorkerState): Promise<void> {
  await writeFileDurable(join(stateDir, WORKER_STATE_FILE), JSON.stringify(state), { mode: 0o600 });
}
