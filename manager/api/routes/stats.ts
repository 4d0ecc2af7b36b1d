// GET /skiff/services/{id}/stats: the CPU and memory of a service's running tasks, read
// now on every node that runs them (lib/stats-protocol.ts). skiff's own endpoint.
import type { FastifyInstance } from 'fastify';
import type { ServiceStats } from '../../../lib/index.js';
import { SkiffError } from '../../../lib/index.js';
import type { ApiContext } from '../context.js';
import { forwardStatsRead, isForwarded } from '../forward.js';
import { paramOf } from './params.js';

export function registerStatsRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/skiff/services/:id/stats', async (req, reply) => {
    const id = paramOf(req, 'id');
    const s = ctx.store.getService(id);
    if (!s) throw new SkiffError('not_found', `service ${id} not found`);
    // Only a running task has a container with figures.
    const tasks = ctx.store.listTasks({ serviceId: s.ID }).filter((t) => t.Status.State === 'running');
    const viaLeader = await forwardStatsRead(ctx, tasks, req.url, isForwarded(req.headers));
    if (viaLeader)
      return reply.status(viaLeader.status).header('content-type', 'application/json').send(viaLeader.body);
    const source = ctx.stats;
    if (!source) {
      throw new SkiffError('unsupported', 'task stats are not available from this manager', {
        hint: 'ask a manager that runs a node agent',
      });
    }
    const { tasks: stats, unreachable } = await source(tasks);
    const out: ServiceStats = {
      serviceId: s.ID,
      serviceName: s.Spec.Name ?? '',
      timeMs: ctx.clock().getTime(),
      tasks: stats,
      unreachable,
    };
    return out;
  });
}
