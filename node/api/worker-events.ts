// `GET /events` on a worker's socket: this node's container events, as dockerd serves
// them on every engine (the cluster's own events are the managers'). The docker CLI
// follows them, e.g. to learn that a `docker run --rm` container is gone on an API
// version before `wait?condition=removed`. A short history answers `since`.
import type { FastifyInstance } from 'fastify';
import type { NodeAgent } from '../../agent/index.js';
import { SkiffError } from '../../lib/index.js';
import {
  API_VERSION,
  type DockerEvent,
  EVENT_FILTERS,
  eventMatches,
  parseEventTime,
  parseFilters,
} from '../../manager/index.js';
import { dockerContainerEvent } from '../container-events.js';

/** Events kept for `since`; a slow reader is dropped past this many bytes buffered. */
const HISTORY = 256;
const MAX_BUFFERED_BYTES = 4 << 20;

export function registerWorkerEventsRoute(
  app: FastifyInstance,
  agentOf: () => Pick<NodeAgent, 'runtime'> | undefined,
): { listenerCount(): number } {
  const history: DockerEvent[] = [];
  const listeners = new Set<(e: DockerEvent) => void>();
  let following: NodeAgent['runtime'] | undefined;
  // The agent starts after the API: it is followed from the first request on.
  const follow = () => {
    const agent = agentOf();
    if (!agent || following === agent.runtime) return;
    following = agent.runtime;
    const off = agent.runtime.onLifecycle((e) => {
      const ev = dockerContainerEvent(e);
      history.push(ev);
      if (history.length > HISTORY) history.shift();
      for (const l of [...listeners]) l(ev);
    });
    app.addHook('onClose', async () => off());
  };
  follow();
  const open = new Set<() => void>();
  app.addHook('onClose', async () => {
    for (const finish of [...open]) finish();
  });

  app.get('/events', async (req, reply) => {
    follow();
    const q = (req.query ?? {}) as Record<string, string | undefined>;
    const filters = parseFilters(q.filters, EVENT_FILTERS);
    const since = parseEventTime(q.since);
    const until = parseEventTime(q.until);
    if (Number.isNaN(since) || Number.isNaN(until))
      throw new SkiffError(
        'invalid_argument',
        'since and until must be unix timestamps in seconds (e.g. 1700000000 or 1700000000.5)',
      );
    const nowNano = Date.now() * 1e6;
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Api-Version': API_VERSION });
    let timer: NodeJS.Timeout | undefined;
    const write = (e: DockerEvent) => {
      if ((until !== undefined && e.timeNano > until) || !eventMatches(e, filters)) return;
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        finish();
        res.destroy();
        return;
      }
      res.write(`${JSON.stringify(e)}\n`);
    };
    const finish = () => {
      listeners.delete(write);
      open.delete(finish);
      if (timer) clearTimeout(timer);
      if (!res.writableEnded) res.end();
    };
    if (since !== undefined) for (const e of history) if (e.timeNano >= since) write(e);
    if (until !== undefined && until <= nowNano) {
      finish();
      return;
    }
    listeners.add(write);
    open.add(finish);
    if (until !== undefined) timer = setTimeout(finish, Math.ceil((until - nowNano) / 1e6));
    res.flushHeaders();
    req.raw.on('close', finish);
  });
  return { listenerCount: () => listeners.size };
}
