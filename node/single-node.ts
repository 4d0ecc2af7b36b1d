// A skiff node in single-node mode: the manager (store, Docker-compatible API, leader
// loops, dispatcher) and the agent (the container stack) in one process, the agent
// talking to the manager's dispatcher in process.
import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { promisify } from 'node:util';
import { NodeAgent } from '../agent/index.js';
import type { Logger } from '../lib/index.js';
import { SkiffError } from '../lib/index.js';
import { Manager } from '../manager/index.js';
import { managerOptions } from './manager-options.js';
import type { NodeOptions, RunningNode } from './options.js';
import type { DaemonPaths } from './paths.js';

export async function runSingleNode(
  paths: DaemonPaths,
  o: Pick<NodeOptions, 'version' | 'addressPool' | 'forceNewCluster'>,
  log: Logger,
): Promise<RunningNode> {
  await mkdir(paths.stateDir, { recursive: true, mode: 0o700 });
  await mkdir(paths.runDir, { recursive: true, mode: 0o700 });
  const hostname = osHostname();
  let agent: NodeAgent | undefined;
  const manager = await Manager.start({
    ...managerOptions(paths, hostname, o.version, log, () => agent),
    ...(o.addressPool ? { addressPool: o.addressPool } : {}),
    ...(o.forceNewCluster ? { forceNewCluster: true } : {}),
    dispatcher: { kind: 'in-process' },
    // `ip route` runs while the manager starts rather than after it.
    leaderLoops: hostSubnets().then((reservedSubnets) => ({ reservedSubnets })),
  });
  agent = new NodeAgent({
    nodeId: manager.nodeId,
    stateDir: paths.stateDir,
    runDir: paths.runDir,
    addr: '127.0.0.1',
    hostname,
    logger: log,
    overlayAsBridge: true,
  });
  const started = agent;
  await started.start(() => {
    const dispatcher = manager.localDispatcher();
    if (!dispatcher) throw new SkiffError('unavailable', 'the manager is not dispatching');
    return dispatcher;
  });
  await writeFile(paths.pidFile, `${process.pid}\n`);
  log.info({ nodeId: manager.nodeId, socket: paths.socket }, 'skiff node ready (single-node mode)');
  return {
    nodeId: manager.nodeId,
    async stop() {
      await started.stop();
      await manager.stop();
      await rm(paths.pidFile, { force: true });
    },
  };
}

/** Subnets the host itself routes: the allocator never hands them out. */
async function hostSubnets(): Promise<string[]> {
  try {
    const { stdout } = await promisify(execFile)('ip', ['-j', '-4', 'route', 'show']);
    const routes = JSON.parse(stdout) as { dst?: string }[];
    return routes.map((r) => r.dst ?? '').filter((d) => /^\d+\.\d+\.\d+\.\d+\/\d+$/.test(d));
  } catch {
    return [];
  }
}
