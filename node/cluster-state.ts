// What makes a state directory part of a cluster, and its removal (a leave, a role switch).
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { RAFT_DEK_FILE } from '../lib/index.js';
import { MANAGERS_FILE } from './manager-state.js';
import { WORKER_STATE_FILE } from './worker-state.js';

/** What makes a state directory part of a cluster. */
const CLUSTER_STATE = [
  'certs',
  'raft',
  RAFT_DEK_FILE,
  'node-id',
  'secrets.key',
  'secrets.key.locked',
  WORKER_STATE_FILE,
  MANAGERS_FILE,
];

export async function removeClusterState(stateDir: string): Promise<void> {
  for (const f of CLUSTER_STATE) await rm(join(stateDir, f), { recursive: true, force: true });
}
