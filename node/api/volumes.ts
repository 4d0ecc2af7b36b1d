// Docker's /volumes endpoints over this node's named local volumes: list, inspect,
// remove, prune. Volumes are node-local; each node answers for its own.
import type { FastifyInstance } from 'fastify';
import type { NodeAgent, volume } from '../../agent/index.js';
import type { DockerVolume } from '../../lib/index.js';
import { SkiffError } from '../../lib/index.js';
import { filterValues, isTrue } from './filters.js';

/** Docker's Volume, plus `UsedBy` (the containers using it), which docker's CLI ignores. */
function view(v: volume.VolumeInfo): DockerVolume {
  return { ...v, UsageData: { Size: -1, RefCount: v.UsedBy.length } };
}

export function registerVolumeRoutes(
  app: FastifyInstance,
  agentOf: () => Pick<NodeAgent, 'volumes'> | undefined,
): void {
  const volumes = () => {
    const a = agentOf();
    if (!a) throw new SkiffError('unavailable', 'the node agent is still starting');
    return a.volumes;
  };

  app.get('/volumes', async (req) => {
    const labels = filterValues(req.query, 'label');
    const all = await volumes().list();
    const match = all.filter((v) => labels.every((l) => labelMatches(v.Labels, l)));
    return { Volumes: match.map(view), Warnings: [] };
  });

  app.get('/volumes/:name', async (req) =>
    view(await volumes().inspect((req.params as { name: string }).name)),
  );

  app.delete('/volumes/:name', async (req, reply) => {
    const force = isTrue((req.query as { force?: unknown }).force);
    try {
      await volumes().remove((req.params as { name: string }).name);
    } catch (e) {
      // As docker: with force, a volume that is not there is no error.
      if (!(force && e instanceof SkiffError && e.code === 'not_found')) throw e;
    }
    return reply.status(204).send();
  });

  app.post('/volumes/prune', async (req) => {
    // Since API 1.42 docker prunes only anonymous volumes unless `all` is set; skiff's
    // volumes are all named, so without `all` there is nothing to prune.
    if (!filterValues(req.query, 'all').some(isTrue)) return { VolumesDeleted: [], SpaceReclaimed: 0 };
    const labels: Record<string, string> = {};
    for (const l of filterValues(req.query, 'label')) {
      const [k, v] = splitLabel(l);
      labels[k] = v ?? '';
    }
    const removed = await volumes().prune({ labels });
    return { VolumesDeleted: removed, SpaceReclaimed: 0 };
  });
}

function splitLabel(l: string): [string, string | undefined] {
  const i = l.indexOf('=');
  return i < 0 ? [l, undefined] : [l.slice(0, i), l.slice(i + 1)];
}

function labelMatches(labels: Record<string, string>, filter: string): boolean {
  const [k, v] = splitLabel(filter);
  return v === undefined ? k in labels : labels[k] === v;
}
