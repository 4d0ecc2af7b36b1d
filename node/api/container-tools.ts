// Docker's endpoints that look into a running container: `GET /containers/{id}/top`
// (dockerd's way: host `ps`, rows of the container's pids), `GET /containers/{id}/stats`
// (its cgroup's CPU and memory and its netns's bytes, as the runtime reads them for
// metrics), and `HEAD`/`GET`/`PUT /containers/{id}/archive` (docker cp: tar of a path
// found inside the container's root without leaving it, agent/containers/container-path.ts).
import { readFileSync } from 'node:fs';
import { lstat, readlink } from 'node:fs/promises';
import { availableParallelism, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { NodeAgent, runtime } from '../../agent/index.js';
import type { EnginePathStat } from '../../lib/index.js';
import { SkiffError, TARBALL_CONTENT_TYPE } from '../../lib/index.js';
import { STREAMED_BODY } from '../../manager/index.js';
import { isTrue } from './filters.js';

const PATH_STAT_HEADER = 'X-Docker-Container-Path-Stat';
/** How often a streamed `stats` answers, as dockerd's collector. */
const STATS_INTERVAL_MS = 1000;

export function registerContainerToolRoutes(
  app: FastifyInstance,
  agentOf: () => Pick<NodeAgent, 'containers'> | undefined,
): void {
  const svc = () => {
    const a = agentOf();
    if (!a) throw new SkiffError('unavailable', 'the node agent is still starting');
    return a.containers;
  };
  const id = (req: { params: unknown }) => (req.params as { id: string }).id;
  const query = (req: { query: unknown }) => (req.query ?? {}) as Record<string, string | undefined>;

  app.get('/containers/:id/top', async (req) => {
    const raw = query(req).ps_args?.trim() || '-ef';
    if (raw.length > 200) throw new SkiffError('invalid_argument', 'ps_args is too long');
    return svc().top(id(req), raw.split(/\s+/));
  });

  app.get('/containers/:id/stats', async (req, reply) => {
    const q = query(req);
    const stream = q.stream === undefined || isTrue(q.stream);
    const oneShot = isTrue(q['one-shot']);
    if (oneShot && stream)
      throw new SkiffError('invalid_argument', 'cannot have stream=true and one-shot=true');
    const service = svc();
    const first = await service.stats(id(req));
    let prev: Sample = sample(first.stats);
    if (!stream) {
      // dockerd's answer carries the CPU of a second before (precpu_stats), unless one-shot.
      if (oneShot) return dockerStats(first.id, first.name, prev, undefined);
      await new Promise((r) => setTimeout(r, STATS_INTERVAL_MS));
      const now = sample((await service.stats(first.id)).stats);
      return dockerStats(first.id, first.name, now, prev);
    }
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.write(`${JSON.stringify(dockerStats(first.id, first.name, prev, undefined))}\n`);
    const timer = setInterval(() => {
      void service.stats(first.id).then(
        (s) => {
          const now = sample(s.stats);
          if (!res.writableEnded) res.write(`${JSON.stringify(dockerStats(first.id, s.name, now, prev))}\n`);
          prev = now;
        },
        () => res.end(), // removed meanwhile: the stream ends, as dockerd's
      );
    }, STATS_INTERVAL_MS);
    res.on('close', () => clearInterval(timer));
  });

  app.head('/containers/:id/archive', async (req, reply) => {
    const path = archivePath(query(req).path);
    const where = await svc().locate(id(req), path, 'archive');
    return reply
      .header(PATH_STAT_HEADER, await pathStat(where.parent, where.name))
      .status(200)
      .send();
  });

  app.get('/containers/:id/archive', async (req, reply) => {
    const path = archivePath(query(req).path);
    const where = await svc().locate(id(req), path, 'archive');
    const stat = await pathStat(where.parent, where.name);
    // Entries named by the path's last component (follow: false keeps links as links).
    const { create } = await import('tar');
    const tar = create({ cwd: where.parent, portable: false, follow: false }, [where.name || '.']);
    return reply
      .header(PATH_STAT_HEADER, stat)
      .header('Content-Type', TARBALL_CONTENT_TYPE)
      .send(tar as unknown as Readable);
  });

  // The docker CLI labels the tar it sends `application/json`: this route takes any body
  // unread, whatever its label (its own encapsulated parsers).
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    scope.put('/containers/:id/archive', STREAMED_BODY, async (req, reply) => {
      const q = query(req);
      const path = archivePath(q.path);
      if (isTrue(q.copyUIDGID))
        throw new SkiffError(
          'invalid_argument',
          'copying with the archive’s owners (-a) is not supported by skiff yet',
        );
      const body = req.body as Readable | undefined;
      if (!body || typeof body.pipe !== 'function')
        throw new SkiffError(
          'invalid_argument',
          `the body must be a tar archive (Content-Type: ${TARBALL_CONTENT_TYPE})`,
        );
      const where = await svc().locate(id(req), path.endsWith('/') ? path : `${path}/`, 'archive');
      const dir = join(where.parent, where.name);
      const st = await lstat(dir);
      if (!st.isDirectory())
        throw new SkiffError('invalid_argument', `extraction point is not a directory: ${path}`);
      // node-tar refuses absolute names, `..`, and writing through a symlink it meets on
      // the way (preservePaths off); the files belong to the container's root user, as dockerd's.
      const { extract } = await import('tar');
      await new Promise<void>((resolve, reject) => {
        const x = extract({ cwd: dir, preserveOwner: false, strict: true });
        x.on('error', reject);
        x.on('close', () => resolve());
        body.on('error', reject);
        body.pipe(x as unknown as NodeJS.WritableStream);
      }).catch((e: unknown) => {
        throw new SkiffError(
          'invalid_argument',
          `the archive could not be extracted: ${(e as Error).message}`,
        );
      });
      return reply.status(200).send();
    });
  });
}

function archivePath(p: string | undefined): string {
  if (!p) throw new SkiffError('invalid_argument', 'path is required (path=)');
  return p;
}

/** Go's os.FileMode: permission bits, type bits high (dockerd's JSON). */
async function pathStat(parent: string, name: string): Promise<string> {
  const full = join(parent, name);
  const st = await lstat(full);
  let mode = st.mode & 0o7777 & ~0o7000;
  if (st.mode & 0o4000) mode += 2 ** 23;
  if (st.mode & 0o2000) mode += 2 ** 22;
  if (st.mode & 0o1000) mode += 2 ** 20;
  if (st.isDirectory()) mode += 2 ** 31;
  else if (st.isSymbolicLink()) mode += 2 ** 27;
  else if (st.isFIFO()) mode += 2 ** 25;
  else if (st.isSocket()) mode += 2 ** 24;
  else if (st.isCharacterDevice()) mode += 2 ** 26 + 2 ** 21;
  else if (st.isBlockDevice()) mode += 2 ** 26;
  const stat: EnginePathStat = {
    name: name || '/',
    size: st.size,
    mode,
    mtime: st.mtime.toISOString(),
    linkTarget: st.isSymbolicLink() ? await readlink(full) : '',
  };
  return Buffer.from(JSON.stringify(stat)).toString('base64');
}

interface Sample {
  read: Date;
  stats: runtime.ContainerStats | undefined;
  systemNanos: number;
}

function sample(stats: runtime.ContainerStats | undefined): Sample {
  return { read: new Date(), stats, systemNanos: systemCpuNanos() };
}

/** The host's CPU time (all CPUs, all states) from /proc/stat, in nanoseconds (dockerd's system_cpu_usage). */
function systemCpuNanos(): number {
  try {
    // Synchronous as the runtime's cgroup reads: procfs answers at once.
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const ticks = line
      .split(/\s+/)
      .slice(1, 8)
      .reduce((n, v) => n + (Number(v) || 0), 0);
    return ticks * (1e9 / 100);
  } catch {
    return 0;
  }
}

/** Docker's stats JSON: what the CLI reads for CPU %, memory usage/limit and network I/O. */
function dockerStats(
  id: string,
  name: string,
  now: Sample,
  prev: Sample | undefined,
): Record<string, unknown> {
  const cpus = availableParallelism();
  const cpu = (s: Sample | undefined) => ({
    cpu_usage: { total_usage: s?.stats?.cpuNanos ?? 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
    system_cpu_usage: s?.stats ? s.systemNanos : 0,
    online_cpus: s?.stats ? cpus : 0,
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  });
  const networks: Record<string, Record<string, number>> = {};
  for (const n of now.stats?.network ?? [])
    networks[n.interface] = {
      rx_bytes: n.rxBytes,
      tx_bytes: n.txBytes,
      rx_packets: 0,
      tx_packets: 0,
      rx_errors: 0,
      tx_errors: 0,
      rx_dropped: 0,
      tx_dropped: 0,
    };
  return {
    id,
    name: `/${name}`,
    read: now.read.toISOString(),
    preread: prev?.read.toISOString() ?? '0001-01-01T00:00:00Z',
    pids_stats: {},
    blkio_stats: {},
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpu(now),
    precpu_stats: cpu(prev),
    memory_stats: now.stats
      ? {
          usage: now.stats.memoryBytes ?? 0,
          limit: now.stats.memoryLimitBytes ?? totalmem(),
          stats: {},
        }
      : {},
    networks,
  };
}
