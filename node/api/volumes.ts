// Docker's /volumes endpoints over this node's named local volumes: create, list,
// inspect, remove, prune. Volumes are node-local; each node answers for its own.
import { randomBytes } from 'node:crypto';
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
  agentOf: () =>
    | (Pick<NodeAgent, 'volumes'> & { containers: Pick<NodeAgent['containers'], 'settled'> })
    | undefined,
): void {
  // A removed container lets go of its volumes behind the removal's answer: awaited, so
  // `docker rm c && docker volume rm v` finds the volume free.
  const volumes = async () => {
    const a = agentOf();
    if (!a) throw new SkiffError('unavailable', 'the node agent is still starting');
    await a.containers.settled();
    return a.volumes;
  };

  app.get('/volumes', async (req) => {
    const labels = filterValues(req.query, 'label');
    const all = await (await volumes()).list();
    const match = all.filter((v) => labels.every((l) => labelMatches(v.Labels, l)));
    return { Volumes: match.map(view), Warnings: [] };
  });

  // `docker volume create`, docker-compose's project volumes: the local driver only.
  app.post('/volumes/create', async (req, reply) => {
    const b = (req.body ?? {}) as Record<string, unknown>;
    if (typeof b !== 'object' || Array.isArray(b))
      throw new SkiffError('invalid_argument', 'the volume config must be a JSON object');
    for (const k of Object.keys(b))
      if (
        !['Name', 'Driver', 'DriverOpts', 'Labels', 'ClusterVolumeSpec'].includes(k) ||
        (k === 'ClusterVolumeSpec' && b[k])
      )
        throw new SkiffError('invalid_argument', `${k.slice(0, 40)} is not supported by skiff yet`);
    const name =
      b.Name === undefined || b.Name === null || b.Name === '' ? randomBytes(32).toString('hex') : b.Name;
    if (typeof name !== 'string') throw new SkiffError('invalid_argument', 'Name must be a string');
    if (b.Driver !== undefined && b.Driver !== null && b.Driver !== '' && b.Driver !== 'local')
      throw new SkiffError(
        'invalid_argument',
        `volume driver '${String(b.Driver).slice(0, 40)}' is not supported`,
        {
          hint: "skiff supports the 'local' driver only",
        },
      );
    const opts = b.DriverOpts ?? {};
    if (typeof opts !== 'object' || Array.isArray(opts) || Object.keys(opts).length > 0)
      throw new SkiffError(
        'invalid_argument',
        'local volume options (DriverOpts) are not supported by skiff yet',
      );
    const labels = b.Labels ?? {};
    if (
      typeof labels !== 'object' ||
      Array.isArray(labels) ||
      Object.values(labels as object).some((v) => typeof v !== 'string')
    )
      throw new SkiffError('invalid_argument', 'Labels must map names to strings');
    const v = await (await volumes()).ensure(name, { labels: labels as Record<string, string> });
    const { created: _created, ...info } = v;
    return reply.status(201).send(view(info));
  });

  app.get('/volumes/:name', async (req) =>
    view(await (await volumes()).inspect((req.params as { name: string }).name)),
  );

  app.delete('/volumes/:name', async (req, reply) => {
    const force = isTrue((req.query as { force?: unknown }).force);
    try {
      await (await volumes()).remove((req.params as { name: string }).name);
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
    const removed = await (await volumes()).prune({ labels });
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
