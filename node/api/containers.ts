// Docker's /containers endpoints over this node's standalone containers (agent/containers):
// create, start, wait, attach (stdin and TTY too), resize, logs, stop, restart, kill,
// pause, unpause, rename, remove, prune, list, inspect; top, stats and archive in
// container-tools.ts.
// What is not served yet answers "page not found" or is refused by name (docs/engine-api.md).

import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { containers, NodeAgent, runtime } from '../../agent/index.js';
import type { EngineContainerPrune, EngineContainerSummary, WaitCondition } from '../../lib/index.js';
import { encodeFrame, SkiffError, STDERR, STDOUT, WAIT_CONDITIONS } from '../../lib/index.js';
import { anyOf, type Filters, labelsMatch, parseFilters, STREAMED_BODY } from '../../manager/index.js';
import { isTrue } from './filters.js';
import { hijack, MULTIPLEXED_STREAM, RAW_STREAM } from './hijack.js';

type Service = containers.ContainerService;

/** dockerd's container list filters; those skiff cannot answer yet are refused by name. */
const LIST_FILTERS = ['id', 'name', 'label', 'status', 'exited', 'is-task', 'ancestor'];
const UNSUPPORTED_LIST_FILTERS = [
  'before',
  'since',
  'expose',
  'publish',
  'volume',
  'network',
  'health',
  'isolation',
];
const STATUSES = ['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead'];

export function registerContainerRoutes(
  app: FastifyInstance,
  agentOf: () => Pick<NodeAgent, 'containers'> | undefined,
): void {
  const svc = (): Service => {
    const a = agentOf();
    if (!a) throw new SkiffError('unavailable', 'the node agent is still starting');
    return a.containers;
  };
  const id = (req: { params: unknown }) => (req.params as { id: string }).id;
  const query = (req: { query: unknown }) => (req.query ?? {}) as Record<string, string | undefined>;

  app.post('/containers/create', async (req, reply) => {
    const name = query(req).name;
    // dockerode sends its options both as the query and as the body: the body's `name`
    // (not a ContainerConfig field) is the query's.
    let body = req.body ?? {};
    if (typeof body === 'object' && body !== null && !Array.isArray(body) && 'name' in body) {
      const { name: inBody, ...rest } = body as Record<string, unknown>;
      if (inBody === name || inBody === undefined || inBody === null) body = rest;
    }
    return reply.status(201).send(await svc().create(body, name));
  });

  app.post('/containers/:id/start', async (req, reply) => {
    const r = await svc().start(id(req));
    return reply.status(r === 'started' ? 204 : 304).send();
  });

  app.post('/containers/:id/stop', async (req, reply) => {
    const q = query(req);
    const t = q.t === undefined || q.t === '' ? undefined : Number(q.t);
    if (t !== undefined && (!Number.isInteger(t) || t < -1))
      throw new SkiffError('invalid_argument', `invalid value for t: ${String(q.t).slice(0, 20)}`);
    const r = await svc().stop(id(req), t === -1 ? 3600 * 24 : t, q.signal || undefined);
    return reply.status(r === 'stopped' ? 204 : 304).send();
  });

  app.post('/containers/:id/kill', async (req, reply) => {
    await svc().kill(id(req), query(req).signal || 'SIGKILL');
    return reply.status(204).send();
  });

  app.delete('/containers/:id', async (req, reply) => {
    const q = query(req);
    // `v` removes the container's anonymous volumes: skiff makes none (create refuses
    // them), so there is nothing more to remove.
    if (isTrue(q.link)) throw new SkiffError('invalid_argument', 'links are not supported by skiff');
    await svc().remove(id(req), { force: isTrue(q.force) });
    return reply.status(204).send();
  });

  app.get('/containers/:id/json', async (req) => svc().inspect(id(req)));

  app.get('/containers/json', async (req) => {
    const q = query(req);
    const f = parseListFilters(q.filters);
    const all = isTrue(q.all) || f.has('status') || f.has('exited');
    let list = (await svc().list()).filter(
      (c) => (all || c.State === 'running' || c.State === 'paused') && matches(c, f),
    );
    list.sort((a, b) => b.Created - a.Created);
    const limit = Number(q.limit);
    if (Number.isInteger(limit) && limit > 0) list = list.slice(0, limit);
    return list;
  });

  app.post('/containers/:id/wait', async (req, reply) => {
    const condition = (query(req).condition || 'not-running') as WaitCondition;
    if (!WAIT_CONDITIONS.includes(condition))
      throw new SkiffError('invalid_argument', `invalid condition: "${String(condition).slice(0, 40)}"`);
    const service = svc();
    const abort = new AbortController();
    // Finds the container first: a missing one is a plain 404.
    await service.mustExist(id(req));
    // As dockerd: the headers go at once, so a client can start the container meanwhile.
    reply.hijack();
    const res = reply.raw;
    res.on('close', () => abort.abort());
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    try {
      const r = await service.wait(id(req), condition, abort.signal);
      res.end(JSON.stringify({ StatusCode: r.StatusCode, Error: null }));
    } catch (e) {
      res.end(
        JSON.stringify({ StatusCode: -1, Error: { Message: e instanceof Error ? e.message : String(e) } }),
      );
    }
  });

  app.get('/containers/:id/logs', async (req, reply) => {
    const q = query(req);
    const stdout = isTrue(q.stdout);
    const stderr = isTrue(q.stderr);
    if (!stdout && !stderr)
      throw new SkiffError('invalid_argument', 'Bad parameters: you must choose at least one stream');
    const since = q.since ? Number(q.since) : undefined;
    if (since !== undefined && !Number.isFinite(since))
      throw new SkiffError('invalid_argument', `invalid since: ${String(q.since).slice(0, 30)}`);
    // `all`, or a negative number (dockerode and testcontainers send -1): every line.
    const asked = q.tail && q.tail !== 'all' ? Number(q.tail) : undefined;
    const tail = asked !== undefined && asked < 0 && Number.isInteger(asked) ? undefined : asked;
    if (tail !== undefined && (!Number.isInteger(tail) || tail < 0))
      throw new SkiffError('invalid_argument', `invalid tail: ${String(q.tail).slice(0, 30)}`);
    if (q.until) throw new SkiffError('invalid_argument', 'logs until a time are not supported by skiff yet');
    const service = svc();
    await service.mustExist(id(req));
    // As dockerd: a container with a terminal has one stream, sent raw (the docker CLI
    // copies it as it comes; frame headers would show as junk bytes).
    const raw = await service.tty(id(req));
    reply.hijack();
    const res = reply.raw;
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    res.writeHead(200, {
      'Content-Type': raw ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream',
    });
    await pump(
      service.logs(id(req), {
        follow: isTrue(q.follow),
        ...(since ? { since: new Date(since * 1000) } : {}),
        ...(tail !== undefined ? { tail } : {}),
        signal: abort.signal,
      }),
      (chunk) => res.write(chunk),
      { stdout, stderr, timestamps: isTrue(q.timestamps), raw },
    );
    res.end();
  });

  // docker run / docker attach. With stdin asked, or a container with a terminal, the
  // session is the container's own stdio through conmon (raw with a TTY, multiplexed
  // frames without); otherwise the output is followed in its log (docker run -d's
  // attached peers, and a client that only reads).
  app.post('/containers/:id/attach', STREAMED_BODY, async (req, reply) => {
    const q = query(req);
    if (q.detachKeys) throw new SkiffError('invalid_argument', 'detachKeys are not supported by skiff yet');
    const service = svc();
    await service.mustExist(id(req));
    const tty = await service.tty(id(req));
    if (isTrue(q.stdin) || tty) {
      if (!isTrue(q.stream))
        throw new SkiffError(
          'invalid_argument',
          'attaching to a terminal or stdin needs stream=1 with skiff',
        );
      const stdin = new PassThrough();
      const abort = new AbortController();
      const pending: Buffer[] = [];
      let socket: Socket | undefined;
      const write = (stream: 'stdout' | 'stderr', chunk: Buffer) => {
        if (!isTrue(stream === 'stdout' ? q.stdout : q.stderr)) return;
        const data = tty ? chunk : encodeFrame(stream === 'stderr' ? STDERR : STDOUT, chunk);
        if (!socket) pending.push(data);
        else if (socket.writable) socket.write(data);
      };
      // Connected before the answer: the client starts the container once it has it.
      const session = await service.attach(id(req), {
        ...(isTrue(q.stdin) ? { stdin } : {}),
        onOutput: write,
        signal: abort.signal,
      });
      const h = hijack(req, reply, tty ? RAW_STREAM : MULTIPLEXED_STREAM);
      socket = h.socket;
      for (const d of pending.splice(0)) socket.write(d);
      socket.on('close', () => abort.abort());
      socket.on('error', () => undefined);
      if (isTrue(q.stdin)) h.input.pipe(stdin);
      else h.input.resume();
      await session.done;
      endSocket(socket);
      return;
    }
    // The docker CLI half-closes its side at once when it sends no input: the socket is
    // ours (hijack.ts), so our side stays open for the output.
    const { socket, input } = hijack(req, reply, MULTIPLEXED_STREAM);
    input.resume();
    const abort = new AbortController();
    socket.on('close', () => abort.abort());
    if (isTrue(q.stream) || isTrue(q.logs)) {
      await pump(
        service.logs(id(req), { follow: isTrue(q.stream), signal: abort.signal, attached: true }),
        (chunk) => socket.write(chunk),
        { stdout: isTrue(q.stdout), stderr: isTrue(q.stderr), timestamps: false },
      );
    }
    socket.end();
  });

  app.post('/containers/:id/resize', async (req, reply) => {
    const q = query(req);
    const height = Number(q.h);
    const width = Number(q.w);
    if (![height, width].every((n) => Number.isInteger(n) && n >= 0 && n <= 65535))
      throw new SkiffError('invalid_argument', 'resize needs integer h and w');
    await svc().resize(id(req), height, width);
    return reply.status(200).send();
  });

  app.post('/containers/:id/restart', async (req, reply) => {
    const q = query(req);
    const t = q.t === undefined || q.t === '' ? undefined : Number(q.t);
    if (t !== undefined && (!Number.isInteger(t) || t < -1))
      throw new SkiffError('invalid_argument', `invalid value for t: ${String(q.t).slice(0, 20)}`);
    await svc().restart(id(req), t === -1 ? 3600 * 24 : t, q.signal || undefined);
    return reply.status(204).send();
  });

  app.post('/containers/:id/pause', async (req, reply) => {
    await svc().pause(id(req));
    return reply.status(204).send();
  });

  app.post('/containers/:id/unpause', async (req, reply) => {
    await svc().unpause(id(req));
    return reply.status(204).send();
  });

  app.post('/containers/:id/rename', async (req, reply) => {
    const name = query(req).name;
    if (!name) throw new SkiffError('invalid_argument', 'rename needs a new name (name=)');
    await svc().rename(id(req), name);
    return reply.status(204).send();
  });

  app.post('/containers/prune', async (req) => {
    const f = parsePruneFilters(query(req).filters);
    const deleted = await svc().prune((c) => !pruneMatches(c, f));
    return { ContainersDeleted: deleted, SpaceReclaimed: 0 } satisfies EngineContainerPrune;
  });

  // What docker's CLI and clients probe before they give up: said plainly.
  app.post('/containers/:id/update', async () => {
    throw new SkiffError('unsupported', 'update is not supported by skiff yet', {
      hint: 'docs/engine-api.md lists what a skiff node serves',
    });
  });
}

function endSocket(socket: Socket): void {
  if (socket.destroyed) return;
  socket.end();
  // A client that never closes its side is not waited for.
  setTimeout(() => socket.destroy(), 5000).unref();
}

/** dockerd's prune filters: `until` (a time) and `label` / `label!`. */
function parsePruneFilters(raw: unknown): { until?: number; label: string[]; notLabel: string[] } {
  const f = parseFilters(raw, ['label', 'label!', 'until']);
  const out: { until?: number; label: string[]; notLabel: string[] } = {
    label: f.get('label') ?? [],
    notLabel: f.get('label!') ?? [],
  };
  const until = f.get('until');
  if (until) {
    const t = untilSeconds(until[0] as string);
    if (t === undefined)
      throw new SkiffError('invalid_argument', `invalid filter 'until=${String(until[0]).slice(0, 40)}'`);
    out.until = t;
  }
  return out;
}

/** A unix time, an RFC 3339 time or a Go duration of h/m/s before now, in seconds. */
function untilSeconds(v: string): number | undefined {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
  const d = /^(\d+)(h|m|s)$/.exec(v);
  if (d) return Date.now() / 1000 - Number(d[1]) * { h: 3600, m: 60, s: 1 }[d[2] as 'h' | 'm' | 's'];
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : t / 1000;
}

function pruneMatches(c: EngineContainerSummary, f: ReturnType<typeof parsePruneFilters>): boolean {
  const has = (want: string) => {
    const eq = want.indexOf('=');
    return eq < 0 ? Object.hasOwn(c.Labels, want) : c.Labels[want.slice(0, eq)] === want.slice(eq + 1);
  };
  return (f.until === undefined || c.Created < f.until) && f.label.every(has) && !f.notLabel.some(has);
}

async function pump(
  entries: AsyncIterable<runtime.LogEntry>,
  write: (chunk: Buffer) => boolean,
  o: { stdout: boolean; stderr: boolean; timestamps: boolean; raw?: boolean },
): Promise<void> {
  try {
    for await (const e of entries) {
      if (e.stream === 'stdout' ? !o.stdout : !o.stderr) continue;
      const text = `${o.timestamps ? `${e.time.toISOString()} ` : ''}${e.line}\n`;
      write(o.raw ? Buffer.from(text) : encodeFrame(e.stream === 'stdout' ? STDOUT : STDERR, text));
    }
  } catch {
    // The client went away, or the container was removed under it: the stream ends.
  }
}

function parseListFilters(raw: unknown): Filters {
  const f = parseFilters(raw, LIST_FILTERS, UNSUPPORTED_LIST_FILTERS);
  for (const s of f.get('status') ?? [])
    if (!STATUSES.includes(s)) throw new SkiffError('invalid_argument', `invalid filter 'status=${s}'`);
  return f;
}

function matches(c: EngineContainerSummary, f: Filters): boolean {
  const name = c.Names[0]?.slice(1) ?? '';
  const isTask = c.Labels['com.docker.swarm.task.id'] !== undefined;
  const exit = /^Exited \((\d+)\)/.exec(c.Status)?.[1];
  return (
    anyOf(f, 'id', (v) => c.Id.startsWith(v)) &&
    anyOf(f, 'name', (v) => name.includes(v.replace(/^\//, ''))) &&
    anyOf(f, 'status', (v) => c.State === v) &&
    anyOf(f, 'exited', (v) => exit === v) &&
    anyOf(f, 'is-task', (v) => (v === 'true') === isTask) &&
    anyOf(f, 'ancestor', (v) => c.Image === v || c.ImageID === v || c.ImageID.startsWith(`sha256:${v}`)) &&
    labelsMatch(f, 'label', c.Labels)
  );
}
