// Docker's /volumes endpoints over this node's volumes, served by its own agent.
import type { FastifyInstance } from 'fastify';
import type { NodeAgent } from '../../agent/index.js';
import { SkiffError } from '../../lib/index.js';

/** Docker's /volumes endpoints over this node's volumes (single-node mode). */
export function registerVolumeRoutes(app: FastifyInstance, agentOf: () => NodeAgent | undefined): void {
  const volumes = () => {
    const a = agentOf();
    if (!a) throw new SkiffError('unavailable', 'the node agent is still starting');
    return a.volumes;
  };
  app.get('/volumes', async (req) => {
    const raw = (req.query as { filters?: string }).filters;
    let labels: string[] = [];
    if (raw) {
      try {
        labels = (JSON.parse(raw) as { label?: string[] }).label ?? [];
      } catch {
        throw new SkiffError('invalid_argument', 'filters is not valid JSON');
      }
    }
    const all = await volumes().list();
    const match = all.filter((v) =>
      labels.every((l) => {
        const [k, val] = l.split('=');
        return k !== undefined && (val === undefined ? k in v.Labels : v.Labels[k] === val);
      }),
    );
    return { Volumes: match.map(({ UsedBy: _used, ...v }) => v), Warnings: [] };
  });
  app.delete('/volumes/:name', async (req, reply) => {
    await volumes().remove((req.params as { name: string }).name);
    return reply.status(204).send();
  });
}
