// The node's own HTTP endpoints, served by the node's agent. On a manager they join its
// API: standalone containers (Docker's /containers), exec in a task's container, Docker's
// image endpoints (pull, list, inspect, tag, rm, prune, import, push), builds (POST
// /build), volume endpoints
// and the disk's housekeeping (system df, prune). On a worker, the node's socket serves
// the image, volume, container and housekeeping endpoints and a small control API
// (leave, ping).
import type { FastifyInstance } from 'fastify';
import type { NodeAgent } from '../../agent/index.js';
import type { ApiContext } from '../../manager/index.js';
import { registerBuildRoute } from './build.js';
import { registerContainerToolRoutes } from './container-tools.js';
import { registerContainerRoutes } from './containers.js';
import { registerDistributeRoute } from './distribute.js';
import { registerEngineExecRoutes } from './engine-exec.js';
import { registerExecRoute } from './exec.js';
import { registerImageRoutes } from './images.js';
import { registerPullRoute } from './pull.js';
import { registerSystemDiskRoutes } from './system.js';
import { registerVolumeRoutes } from './volumes.js';

export { type BuildRequest, parseBuildQuery, parseCredentials } from './build.js';
export { peerExecApi } from './exec.js';
export { ExecBodySchema } from './exec-body.js';
export { importImage, registerImageRoutes, TARBALL_CONTENT_TYPE } from './images.js';
export { pullMessages, pushMessages } from './progress.js';
export { registerSystemDiskRoutes, usageRows } from './system.js';
export { registerVolumeRoutes } from './volumes.js';
export { isNodeLocalPath, type NodeLocalHandler, nodeLocalApi } from './worker-api.js';
export { serveWorkerControl } from './worker-control.js';

export function registerNodeRoutes(
  app: FastifyInstance,
  ctx: ApiContext,
  agentOf: () => NodeAgent | undefined,
): void {
  registerVolumeRoutes(app, agentOf);
  registerImageRoutes(app, agentOf);
  registerBuildRoute(app, agentOf, ctx.log);
  registerContainerRoutes(app, agentOf);
  registerContainerToolRoutes(app, agentOf);
  registerEngineExecRoutes(app, agentOf);
  registerExecRoute(app, ctx, agentOf);
  registerDistributeRoute(app, ctx, agentOf);
  registerPullRoute(app, ctx, agentOf);
  registerSystemDiskRoutes(app, agentOf, { stateDir: ctx.info.stateDir ?? '' }, ctx.log);
}
