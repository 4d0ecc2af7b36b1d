// Leaving a cluster (`skiff cluster leave`, Docker's `/swarm/leave`): the node removes
// its tasks' containers, stops, and forgets its cluster state (identity, raft, keys);
// images and volumes stay. A manager first checks that the managers left keep a raft
// quorum, as Docker does, unless forced.

import type { Node } from '../lib/index.js';
import { SkiffError } from '../lib/index.js';
import { removeClusterState } from './cluster-state.js';
import { beginRoleSwitch, endRoleSwitch, writeWorkerSwitch } from './role-switch.js';
import type { WorkerState } from './worker-state.js';

/**
 * Docker's rule: a manager may leave without --force unless the managers that stay
 * reachable would be no majority of the raft group. A manager is unreachable when its
 * node is down (its agent stopped heartbeating).
 */
export function quorumRefusal(members: string[], nodes: Node[], self: string): SkiffError | undefined {
  const down = new Set(nodes.filter((n) => n.Status.State === 'down').map((n) => n.ID));
  const reachable = members.filter((id) => !down.has(id)).length;
  const unreachable = members.length - reachable;
  const base = 'You are attempting to leave the cluster on a node that is participating as a manager. ';
  if (!members.includes(self)) return undefined;
  if (members.length === 1) {
    return new SkiffError(
      'unavailable',
      `${base}Removing the last manager erases all current state of the cluster.`,
      { hint: 'use --force to leave anyway' },
    );
  }
  if (reachable - 1 <= unreachable) {
    return new SkiffError(
      'unavailable',
      `${base}Removing this node leaves ${reachable - 1} managers out of ${members.length}. ` +
        'Without a raft quorum the cluster will be inaccessible.',
      { hint: 'bring the other managers back first, or use --force to leave anyway' },
    );
  }
  return undefined;
}

/**
 * A manager, or a node promoted but demoted again before it joined raft, continues as a
 * worker: its cluster state goes, the worker certificate the managers gave it and the
 * managers it knows are kept.
 */
export async function becomeWorker(
  stateDir: string,
  cert: { caPem: string; certPem: string; keyPem: string },
  state: WorkerState,
): Promise<void> {
  const worker = { cert: { caPem: cert.caPem, certPem: cert.certPem, keyPem: cert.keyPem }, state };
  await beginRoleSwitch(stateDir, 'worker', worker);
  await removeClusterState(stateDir);
  await writeWorkerSwitch(stateDir, worker);
  await endRoleSwitch(stateDir);
}

/**
 * A worker promoted continues as a manager: its worker state goes; the manager's is written
 * by the manager's start from the promotion's answer, which ends the switch (start.ts).
 */
export async function beginPromotion(stateDir: string): Promise<void> {
  await beginRoleSwitch(stateDir, 'manager');
  await removeClusterState(stateDir);
}
