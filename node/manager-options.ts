// What every manager node starts its manager with: its state and socket, and the
// node-local endpoints (task logs, exec, pulls, volumes) served from its own agent.
import type { NodeAgent } from '../agent/index.js';
import { readTaskStats } from '../agent/index.js';
import type { Logger } from '../lib/index.js';
import { SkiffError } from '../lib/index.js';
import type { LocalNetworkPort, ManagerOptions } from '../manager/index.js';
import { registerNodeRoutes } from './api/index.js';
import type { ContainerEvents } from './container-events.js';
import { nodeHealth } from './health.js';
import { nodeLogSource } from './log-source.js';
import { type NodeMetrics, registerMetricsRoute } from './metrics/index.js';
import { nodeCounts } from './node-counts.js';
import type { DaemonPaths } from './paths.js';

export function managerOptions(
  paths: DaemonPaths,
  hostname: string,
  version: string,
  log: Logger,
  agentOf: () => NodeAgent | undefined,
  metrics: NodeMetrics,
  containerEvents: ContainerEvents,
): ManagerOptions {
  return {
    stateDir: paths.stateDir,
    socketPath: paths.socket,
    hostname,
    version,
    logger: log,
    security: () => agentOf()?.runtime.securityInfo(),
    counts: () => nodeCounts(agentOf()),
    logs: (tasks, q, signal) => nodeLogSource(agentOf)(tasks, q, signal),
    stats: async (taskIds) => {
      const agent = agentOf();
      if (!agent) throw new SkiffError('unavailable', 'the node agent is still starting');
      return readTaskStats(agent.runtime, taskIds);
    },
    extraRoutes: (app, ctx) => {
      registerNodeRoutes(app, ctx, agentOf);
      registerMetricsRoute(app, metrics);
      app.get('/skiff/health', async (_req, reply) => {
        const report = await nodeHealth({
          nodeId: ctx.info.nodeId,
          manager: { store: ctx.store, replicator: ctx.replicator },
          agent: agentOf(),
        });
        return reply.status(report.healthy ? 200 : 503).send(report);
      });
    },
    localNetworks: localNetworks(agentOf),
    metrics: metrics.managerHooks,
    localEvents: containerEvents.source,
  };
}

/** The node's own networks, from its agent's standalone containers. */
function localNetworks(agentOf: () => NodeAgent | undefined): LocalNetworkPort {
  const svc = () => {
    const a = agentOf();
    if (!a) throw new SkiffError('unavailable', 'the node agent is still starting');
    return a.containers;
  };
  return {
    // While the agent starts, the cluster's networks are still listed and found.
    list: async () => (await agentOf()?.containers.listNetworks()) ?? [],
    find: async (ref) => agentOf()?.containers.findNetwork(ref),
    create: (body) => svc().createNetwork(body),
    remove: (ref) => svc().removeNetwork(ref),
    connect: (network, container, aliases) => svc().connect(network, container, aliases),
    disconnect: (network, container) => svc().disconnect(network, container),
    prune: (keep) => svc().pruneNetworks(keep),
  };
}
