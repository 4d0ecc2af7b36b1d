// A skiff node in single-node mode: the manager (store, Docker-compatible API, leader
// loops, dispatcher) and the agent (the container stack) in one process, the agent
// talking to the manager's dispatcher in process.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { NodeAgent } from '../agent/index.js';
import type { Logger } from '../lib/index.js';
import { SkiffError } from '../lib/index.js';
import { Manager } from '../manager/index.js';
import { ContainerEvents } from './container-events.js';
import { managerOptions } from './manager-options.js';
import { NodeMetrics, serveMetrics } from './metrics/index.js';
import type { NodeOptions, RunningNode } from './options.js';
import type { DaemonPaths } from './paths.js';

export async function runSingleNode(
  paths: DaemonPaths,
  o: Pick<
    NodeOptions,
    'version' | 'addressPool' | 'raftSnapshotInterval' | 'pullLimits' | 'metricsAddr' | 'forceNewCluster'
  >,
  log: Logger,
): Promise<RunningNode> {
  // Where a start spends its time (ms since the process started), on the ready line: the
  // node's code loaded; the API answering (identities, raft open and replay, read barrier,
  // API server); the agent (adopted containers, networks).
  const startMs: Record<string, number> = { loaded: Math.round(performance.now()) };
  const hostname = osHostname();
  let agent: NodeAgent | undefined;
  let manager: Manager | undefined;
  const containerEvents = new ContainerEvents();
  const metrics = new NodeMetrics({
    nodeId: () => manager?.nodeId ?? '',
    manager: () => manager,
    agent: () => agent,
  });
  // Listening first: a taken port fails the start before anything else runs.
  const metricsServer = o.metricsAddr ? await serveMetrics(metrics, o.metricsAddr, log) : undefined;
  manager = await Manager.start({
    ...managerOptions(paths, hostname, o.version, log, () => agent, metrics, containerEvents),
    ...(o.addressPool ? { addressPool: o.addressPool } : {}),
    ...(o.raftSnapshotInterval ? { raftSnapshotInterval: o.raftSnapshotInterval } : {}),
    ...(o.forceNewCluster ? { forceNewCluster: true } : {}),
    dispatcher: { kind: 'in-process' },
    // No other manager joins a single node: its raft needs no transport.
    raft: { standalone: true },
    // The routes are read while the manager starts rather than after it.
    leaderLoops: hostSubnets().then((reservedSubnets) => ({ reservedSubnets })),
  }).catch(async (e: unknown) => {
    await metricsServer?.close();
    throw e;
  });
  startMs.api = Math.round(performance.now());
  agent = new NodeAgent({
    nodeId: manager.nodeId,
    stateDir: paths.stateDir,
    runDir: paths.runDir,
    addr: '127.0.0.1',
    hostname,
    logger: log,
    ...(o.pullLimits ? { pullLimits: o.pullLimits } : {}),
    overlayAsBridge: true,
    ...(o.addressPool?.pools[0]
      ? { bridgeSubnet: lastSubnetOf(o.addressPool.pools[0]), networkPool: o.addressPool.pools[0] }
      : {}),
    onImagePulled: metrics.onImagePulled,
  });
  const started = agent;
  const running = manager;
  containerEvents.follow(started);
  await started.start(() => {
    const dispatcher = running.localDispatcher();
    if (!dispatcher) throw new SkiffError('unavailable', 'the manager is not dispatching');
    return dispatcher;
  });
  await writeFile(paths.pidFile, `${process.pid}\n`);
  startMs.agent = Math.round(performance.now());
  log.info({ nodeId: manager.nodeId, socket: paths.socket, startMs }, 'skiff node ready (single-node mode)');
  return {
    nodeId: manager.nodeId,
    failed: manager.failed,
    async stop() {
      await metricsServer?.close();
      await started.stop();
      await running.stop();
      await rm(paths.pidFile, { force: true });
    },
  };
}

/**
 * Subnets the host itself routes (its main table, as `ip -4 route show` lists them): the
 * allocator never hands them out. Read from procfs: no child process while the node starts.
 */
async function hostSubnets(): Promise<string[]> {
  try {
    return routedSubnets(await readFile('/proc/net/route', 'utf8'));
  } catch {
    return [];
  }
}

/**
 * The subnets of `/proc/net/route` (destination and mask in little-endian hex), without
 * the default route and host routes, as `ip -j route` names them (`10.0.0.0/24`).
 */
export function routedSubnets(procNetRoute: string): string[] {
  const out: string[] = [];
  for (const line of procNetRoute.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    const dst = Number.parseInt(f[1] ?? '', 16);
    const mask = Number.parseInt(f[7] ?? '', 16);
    if (!Number.isInteger(dst) || !Number.isInteger(mask)) continue;
    let bits = 0;
    for (let m = mask >>> 0; m !== 0; m >>>= 1) bits += m & 1;
    if (bits === 0 || bits === 32) continue;
    out.push(`${dst & 255}.${(dst >>> 8) & 255}.${(dst >>> 16) & 255}.${dst >>> 24}/${bits}`);
  }
  return out;
}

/**
 * The last /24 of the node's address pool for its `bridge` network: inside the range the
 * operator gave skiff, and the last the allocator would hand a cluster network.
 */
export function lastSubnetOf(pool: string): string | undefined {
  const [base = '', bitsText = ''] = pool.split('/');
  const o = base.split('.').map(Number);
  const bits = Number(bitsText);
  if (o.length !== 4 || o.some((x) => !Number.isInteger(x) || x < 0 || x > 255) || !(bits >= 0 && bits <= 24))
    return undefined;
  const ip = (((o[0] ?? 0) << 24) | ((o[1] ?? 0) << 16) | ((o[2] ?? 0) << 8) | (o[3] ?? 0)) >>> 0;
  const last = (ip | (2 ** (32 - bits) - 1)) >>> 0;
  const net = (last & 0xffffff00) >>> 0;
  return `${net >>> 24}.${(net >>> 16) & 255}.${(net >>> 8) & 255}.0/24`;
}
