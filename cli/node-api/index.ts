// Node-local API routes a skiff node adds to its manager's API, served by its own agent:
// exec in a task's container and image pulls.
import type { FastifyInstance } from 'fastify';
import type { NodeAgent } from '../../agent/index.js';
import type { ApiContext } from '../../manager/index.js';
import { registerExecRoute } from './exec-route.js';
import { registerPullRoute } from './pull-route.js';

export function registerNodeRoutes(
  app: FastifyInstance,
  ctx: ApiContext,
  agentOf: () => NodeAgent | undefined,
): void {
  registerExecRoute(app, ctx, agentOf);
  registerPullRoute(app, ctx, agentOf);
}
