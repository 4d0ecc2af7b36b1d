// Starting a node: single-node mode, or a cluster node under the role supervisor in the
// role its state directory (or, on a first start with a token, the join) gives it.
import type { Logger } from '../lib/index.js';
import { SkiffError } from '../lib/index.js';
import { hasIdentity } from '../manager/index.js';
import { joinCluster } from './join.js';
import { startManagerRole } from './manager-role.js';
import type { ClusterNodeOptions, NodeMode, NodeOptions, RunningNode } from './options.js';
import { type DaemonPaths, prepareNodeDirs } from './paths.js';
import { DEFAULT_PORT } from './ports.js';
import { roleFromManagers } from './role-from-managers.js';
import { checkRoleSwitch, endRoleSwitch } from './role-switch.js';
import { runSingleNode } from './single-node.js';
import { type StartRole, superviseRoles } from './supervisor.js';
import { startWorkerRole } from './worker-role.js';
import { isWorkerState } from './worker-state.js';

export async function nodeMode(
  stateDir: string,
  o: Pick<NodeOptions, 'advertiseAddr' | 'join'>,
): Promise<NodeMode> {
  if (isWorkerState(stateDir)) return 'worker';
  if (o.join && !(await hasIdentity(stateDir))) return 'join';
  return o.advertiseAddr ? 'manager' : 'single';
}

export async function startNode(paths: DaemonPaths, o: NodeOptions, log: Logger): Promise<RunningNode> {
  prepareNodeDirs(paths);
  await checkRoleSwitch(paths.stateDir, o.join !== undefined);
  const mode = await nodeMode(paths.stateDir, o);
  if (mode === 'single') return runSingleNode(paths, o, log);
  const { join, addressPool: _pools, advertiseAddr, ...rest } = o;
  if (!advertiseAddr) {
    throw new SkiffError(
      'invalid_argument',
      'a cluster node needs an advertise address (the address other nodes reach it at)',
    );
  }
  const { forceNewCluster, ...common } = rest;
  const cluster: ClusterNodeOptions = { ...common, advertiseAddr };
  // A forced new cluster is made once, by the first manager role this process starts.
  let force = forceNewCluster === true;
  const startRole: StartRole = (role, events, joined) => {
    if (role !== 'manager') return startWorkerRole(paths, cluster, log, events, joined);
    const once = force;
    force = false;
    // Its state is whole once it started: a promotion's switch ends here.
    return startManagerRole(
      paths,
      { ...cluster, ...(once ? { forceNewCluster: true } : {}) },
      log,
      events,
      joined,
    ).then(async (role) => {
      await endRoleSwitch(paths.stateDir);
      return role;
    });
  };
  if (mode === 'join' && join) {
    const joined = await joinCluster(cluster, join, log);
    return superviseRoles(startRole, { role: joined.role === 'manager' ? 'manager' : 'worker', joined }, log);
  }
  if (mode === 'worker') return superviseRoles(startRole, { role: 'worker' }, log);
  // A manager demoted while it was down (or killed while it switched roles) finds no
  // leader: it asks the other managers what it is now.
  const self = `${advertiseAddr}:${o.port ?? DEFAULT_PORT}`;
  return superviseRoles(
    startRole,
    { role: 'manager', instead: () => roleFromManagers(paths.stateDir, self, log) },
    log,
  );
}
