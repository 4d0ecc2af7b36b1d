// The node's own HTTP endpoints. On a manager they join its API, served by the node's
// agent: exec in a task's container, image pulls, volumes. On a worker, a small control
// API on the node's socket (leave, ping).
import type { FastifyInstance } from 'fastify';
import type { NodeAgent } from '../../agent/index.js';
import type { ApiContext } from '../../manager/index.js';
import { registerExecRoute } from './exec.js';
import { registerPullRoute } from './pull.js';
import { registerVolumeRoutes } from './volumes.js';

export { ExecBodySchema } from './exec-body.js';
export { serveWorkerControl } from './worker-control.js';

export function registerNodeRoutes(
  app: FastifyInstance,
  ctx: ApiContext,
  agentOf: () => NodeAgent | undefined,
): void {
  registerVolumeRoutes(app, agentOf);
  registerExecRoute(app, ctx, agentOf);
  registerPullRoute(app, ctx, agentOf);
}
