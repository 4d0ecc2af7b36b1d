// The skiff node process (like swarmkit's node): it runs the agent and, on a manager,
// the Manager; a role supervisor switches between manager and worker on promotion and
// demotion; joining and leaving a cluster live here too. This surface stays light (paths,
// config file, state checks): the node's code (manager, agent, gRPC) loads only when a
// node starts, so CLI commands that only talk to the API start without it.

import type { Logger } from '../lib/index.js';
import type { RestoreBackupOptions, RestoredBackup } from '../manager/index.js';
import type { DaemonConfigValues } from './config-file.js';
import type { NodeMode, NodeOptions, RunningNode } from './options.js';
import type { DaemonPaths } from './paths.js';

export type { DaemonConfigValues } from './config-file.js';
export { quorumRefusal } from './leave.js';
export type { ClusterNodeOptions, NodeMode, NodeOptions, RunningNode } from './options.js';
export { type DaemonPaths, DEFAULT_CONFIG_FILE, daemonPaths, prepareNodeDirs } from './paths.js';
export { DEFAULT_PORT, dispatcherAddr } from './ports.js';
export { isWorkerState } from './worker-state.js';

/** Runs this machine's node until it is stopped or leaves its cluster. */
export async function runNode(paths: DaemonPaths, o: NodeOptions, log: Logger): Promise<RunningNode> {
  const { startNode } = await import('./start.js');
  return startNode(paths, o, log);
}

/**
 * Writes a backup (`skiff cluster backup`) into this node's empty state as a new
 * single-manager cluster; the file is checked in full before anything is written.
 */
export async function restoreBackup(o: RestoreBackupOptions): Promise<RestoredBackup> {
  const { restoreBackup: restore } = await import('../manager/index.js');
  return restore(o);
}

/** How the node will start: as the worker it was, by joining, as a cluster manager, or single-node. */
export async function nodeMode(
  stateDir: string,
  o: Pick<NodeOptions, 'advertiseAddr' | 'join'>,
): Promise<NodeMode> {
  const start = await import('./start.js');
  return start.nodeMode(stateDir, o);
}

/**
 * The daemon's settings from its config file (`daemon run --config`), checked by a schema;
 * loaded on demand, so that commands which only read paths do not load zod.
 */
export async function readDaemonConfig(
  file: string,
  explicit: boolean,
): Promise<DaemonConfigValues | undefined> {
  const { readDaemonConfig: read } = await import('./config-file.js');
  return read(file, explicit);
}
