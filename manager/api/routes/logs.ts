// /services/{id}/logs and /tasks/{id}/logs: log lines of tasks, from the node-side
// LogSource the daemon provides, framed as Docker's multiplexed stream (8-byte header:
// stream 1 stdout / 2 stderr, then the payload length, big-endian).
import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Task } from '../../../lib/index.js';
import {
  SkiffError,
  SWARM_NODE_ID_LABEL,
  SWARM_SERVICE_ID_LABEL,
  SWARM_TASK_ID_LABEL,
} from '../../../lib/index.js';
import type { ApiContext, LogQuery } from '../context.js';
import { forwardLogRead, isForwarded } from '../forward.js';
import { paramOf, queryOf } from './params.js';

export function registerLogRoutes(app: FastifyInstance, ctx: ApiContext): void {
  app.get('/services/:id/logs', async (req, reply) => {
    const id = paramOf(req, 'id');
    const s = ctx.store.getService(id);
    if (!s) throw new SkiffError('not_found', `service ${id} not found`);
    return stream(ctx, req, reply, ctx.store.listTasks({ serviceId: s.ID }), logQuery(queryOf(req)));
  });

  app.get('/tasks/:id/logs', async (req, reply) => {
    const id = paramOf(req, 'id');
    const t = ctx.store.getTask(id);
    if (!t) throw new SkiffError('not_found', `task ${id} not found`);
    return stream(ctx, req, reply, [t], logQuery(queryOf(req)));
  });
}

function logQuery(q: Record<string, unknown>): LogQuery {
  const flag = (k: string) => q[k] === '1' || q[k] === 'true';
  const tail = typeof q.tail === 'string' && /^\d+$/.test(q.tail) ? Number(q.tail) : undefined;
  let since: Date | undefined;
  if (typeof q.since === 'string' && q.since !== '' && q.since !== '0') {
    const n = Number(q.since);
    since = Number.isFinite(n) ? new Date(n * 1000) : new Date(q.since);
    if (Number.isNaN(since.getTime()))
      throw new SkiffError('invalid_argument', `invalid since value ${q.since.slice(0, 40)}`);
  }
  return {
    follow: flag('follow'),
    timestamps: flag('timestamps'),
    details: flag('details'),
    ...(tail !== undefined ? { tail } : {}),
    ...(since ? { since } : {}),
  };
}

async function stream(ctx: ApiContext, req: FastifyRequest, reply: FastifyReply, tasks: Task[], q: LogQuery) {
  const raw = req.raw;
  const viaLeader = await forwardLogRead(ctx, tasks, req.url, isForwarded(req.headers));
  if (viaLeader) {
    raw.on('close', () => viaLeader.stream.destroy());
    if (viaLeader.contentType) reply.header('content-type', viaLeader.contentType);
    return reply.status(viaLeader.status).send(viaLeader.stream);
  }
  const source = ctx.logs;
  if (!source) {
    throw new SkiffError('unsupported', 'logs are not available from this manager', {
      hint: 'read the task logs on the node that runs them',
    });
  }
  const abort = new AbortController();
  raw.on('close', () => abort.abort());
  const out = new PassThrough();
  void (async () => {
    try {
      for await (const l of source(tasks, q, abort.signal)) {
        const t = tasks.find((x) => x.ID === l.taskId);
        let text = l.line;
        if (q.details && t) {
          text = `${SWARM_NODE_ID_LABEL}=${t.NodeID ?? ''},${SWARM_SERVICE_ID_LABEL}=${t.ServiceID},${SWARM_TASK_ID_LABEL}=${t.ID} ${text}`;
        }
        if (q.timestamps) text = `${l.time.toISOString()} ${text}`;
        const payload = Buffer.from(`${text}\n`);
        const header = Buffer.alloc(8);
        header[0] = l.stream === 'stderr' ? 2 : 1;
        header.writeUInt32BE(payload.length, 4);
        if (!out.write(Buffer.concat([header, payload]))) await new Promise((r) => out.once('drain', r));
      }
    } catch (e) {
      ctx.log.warn({ err: String(e) }, 'log stream ended with an error');
    } finally {
      out.end();
    }
  })();
  return reply.header('content-type', 'application/vnd.docker.multiplexed-stream').send(out);
}
